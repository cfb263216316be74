"""Benchmark: phone-take clean-up (noise reduction, de-esser) on long synthetic takes.

The measurements of ``tests/unit/test_cleanup.py`` (imported from there), on a take of
``--minutes`` (3 by default) instead of 8 s:

* ``denoise``: a dry sung take plus pink noise at 20 dB SNR (re the notes' mean power),
  and the same with hiss and mains hum (white noise plus 50 Hz and its harmonics, half the
  power each). Figures: the noise's fall in the rests (dB, target >= 10), the notes' loudness
  change against the clean and the noisy notes (LU, target <= 0.5), the noise floor and SNR
  the report estimated (dB off the truth), and the spread of the rests' log spectrum (dB,
  the standard deviation over time-frequency cells: 5.6 dB for Gaussian noise; more after
  processing means "musical noise", isolated time-frequency peaks).
* ``clean``: the clean take through noise reduction: loudness change (LU, target <= 0.2)
  and the largest sample difference.
* ``deess``: a take with 80-150 ms bursts of 4-10 kHz noise at half the notes' onsets:
  5-10 kHz energy during the bursts (fall, dB, target >= 4) and the vowels' change (dB and
  LU, target <= 0.5).
* ``cost``: :func:`~vocalmix.dsp.cleanup.apply_cleanup` (both effects) on a stereo 44.1 kHz
  take with noise and sibilants, each run in a fresh process: wall and CPU time (median of
  ``--reps``; target well under 5 s for 3 minutes on 2 cores), peak resident memory
  (``VmHWM``) and its rise over the loaded input. The same for a ``--memory-minutes`` take
  (10 by default): memory must not grow with the song beyond the output array.

When the ``noisereduce`` package (spectral gating; Sainburg et al. 2020) can be imported, it
is measured beside ours for the denoise and clean figures: its stationary and non-stationary
modes at their defaults (blind, like ours), and the stationary mode given a noise-only clip
(the take's longest rest) with its mask smoothed over 100 Hz instead of 500 Hz. The cost of
its two modes at their defaults is measured too. It is not a dependency of the project: put it on
``PYTHONPATH`` for the run (``pip install --target DIR noisereduce``).

Writes ``benchmarks/results/cleanup.csv`` (figure, implementation, material, value, unit,
target, met) and prints it.

    .venv/bin/python benchmarks/cleanup.py [--minutes 3] [--memory-minutes 10] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results"
SR = 44100

CHILD = r"""
import json, sys, time
import numpy as np

def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

impl, path, sr = sys.argv[1], sys.argv[2], int(sys.argv[3])
if impl == "vocalmix":
    from vocalmix.dsp.cleanup import Cleanup, DeEsser, NoiseReduction, apply_cleanup
    run = lambda a: apply_cleanup(a, sr, Cleanup(NoiseReduction(), DeEsser()))[0]
else:
    import noisereduce as nr
    stationary = impl == "noisereduce_stationary"
    run = lambda a: nr.reduce_noise(y=a, sr=sr, stationary=stationary)
audio = np.load(path)
base_mb = hwm_mb()
t0, c0 = time.perf_counter(), time.process_time()
y = run(audio)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": hwm_mb(),
                  "baseline_rss_mb": base_mb, "samples": int(y.shape[-1])}))
"""


def _material():
    sys.path.insert(0, str(ROOT))
    from tests.unit import test_cleanup

    return test_cleanup


def _noisereduce():
    try:
        import noisereduce
    except ImportError:
        return None
    return noisereduce


def hum_and_hiss(n: int, rng: np.random.Generator) -> np.ndarray:
    """White noise plus 50 Hz mains hum (harmonics 1-8 at 1/h amplitude), equal power."""
    t = np.arange(n) / SR
    hum = sum(np.sin(2 * np.pi * 50.0 * h * t + rng.uniform(0, 2 * np.pi)) / h
              for h in range(1, 9))
    hiss = rng.standard_normal(n)
    return (hum / np.sqrt(np.mean(hum ** 2)) + hiss / np.sqrt(np.mean(hiss ** 2)))[None]


def rest_spread_db(x: np.ndarray, rests) -> float:
    """Standard deviation (dB) of the log power over the STFT cells (2048-point Hann, hop
    512; 100 Hz-16 kHz) of the rests, each rest's bins relative to their own mean: 5.6 dB
    for Gaussian noise of any spectrum. Cells of digital silence are left out."""
    from scipy import signal

    values = []
    for a, b in rests:
        if b - a < 4096:
            continue
        f, _, z = signal.stft(x[0, a:b].astype(np.float64), fs=SR, nperseg=2048,
                              noverlap=1536, boundary=None, padded=False)
        p = np.abs(z[(f >= 100) & (f <= 16000)]) ** 2
        if not (p > 0).all():
            continue
        db = 10 * np.log10(p)
        values.append((db - db.mean(axis=1, keepdims=True)).ravel())
    return float(np.std(np.concatenate(values))) if values else math.nan


def quality_rows(minutes: float) -> list[dict]:
    m = _material()
    nr = _noisereduce()
    rows: list[dict] = []

    def row(figure, impl, material, value, unit, target=None, le=True):
        # a change (LU, dB) meets its target in size; a reduction meets it from above
        size = abs(value) if le else value
        met = "" if target is None else ("yes" if (size <= target if le else size >= target)
                                         else "no")  # NaN: "no"
        rows.append({"figure": figure, "implementation": impl, "material": material,
                     "value": float(value), "unit": unit, "target": target, "met": met})
        print(f"{figure:24s} {impl:26s} {material:14s} {value:9.3f} {unit}", flush=True)

    take = m.sung_take(60.0 * minutes, seed=3)
    rests = take.rests()
    true_noise_dbfs = m.NOTE_RMS_DBFS - 20.0
    noises = {"pink_20db": m.add_noise(take, 20.0, np.random.default_rng(440)),
              "hum_hiss_20db": m.add_noise(take, 20.0, np.random.default_rng(441),
                                           hum_and_hiss(take.audio.shape[1],
                                                        np.random.default_rng(442)))}
    a, b = max(rests, key=lambda r: r[1] - r[0])  # the noise clip noisereduce may be given
    denoisers = {"vocalmix": lambda z: m.denoise(z, SR)[0]}
    if nr is not None:
        denoisers.update({
            "noisereduce_stationary": lambda z: nr.reduce_noise(y=z, sr=SR, stationary=True),
            "noisereduce_nonstationary": lambda z: nr.reduce_noise(y=z, sr=SR,
                                                                   stationary=False),
            # given a noise-only clip (the take's longest rest) and a mask smoothed over
            # 100 Hz instead of 500 Hz (its smallest at 1024 points), which keeps harmonics
            "noisereduce_clip_100hz": lambda z: nr.reduce_noise(
                y=z, sr=SR, stationary=True, y_noise=z[:, a:b], freq_mask_smooth_hz=100),
        })
    for material, noisy in noises.items():
        row("rest_spread_db", "input", material, rest_spread_db(noisy, rests), "dB")
        for impl, fn in denoisers.items():
            t0 = time.perf_counter()
            y = fn(noisy).astype(np.float32)
            wall = time.perf_counter() - t0
            row("rest_reduction_db", impl, material,
                m.level_db(noisy, rests) - m.level_db(y, rests), "dB", 10.0, le=False)
            row("notes_vs_clean_lu", impl, material,
                m.notes_lufs(y, take) - m.notes_lufs(take.audio, take), "LU", 0.5)
            row("notes_vs_noisy_lu", impl, material,
                m.notes_lufs(y, take) - m.notes_lufs(noisy, take), "LU", 0.5)
            row("rest_spread_db", impl, material, rest_spread_db(y, rests), "dB")
            row("mono_wall_s", impl, material, wall, "s")
            if impl == "vocalmix":
                _, r = m.denoise(noisy, SR)
                row("noise_floor_error_db", impl, material,
                    r["noise_floor_dbfs"] - true_noise_dbfs, "dB")
                row("snr_estimate_error_db", impl, material, r["snr_db"] - 20.0, "dB")
    for impl, fn in denoisers.items():
        try:
            y = fn(take.audio).astype(np.float32)
        except Exception as exc:  # noisereduce, given a clip of digital silence
            print(f"{impl} failed on the clean take: {exc!r}")
            y = np.full_like(take.audio, np.nan)
        if not np.isfinite(y).all():
            print(f"{impl}: non-finite output on the clean take")
            row("clean_change_lu", impl, "clean", math.nan, "LU", 0.2)
            continue
        row("clean_change_lu", impl, "clean",
            abs(m.notes_lufs(y, take) - m.notes_lufs(take.audio, take)), "LU", 0.2)
        row("clean_max_abs_diff", impl, "clean", float(np.max(np.abs(y - take.audio))), "")

    sib = m.sung_take(60.0 * minutes, seed=5, sibilants=True)
    f = m.deess_figures(sib)
    row("sibilant_reduction_db", "vocalmix", "sibilants", f["sibilant_reduction_db"], "dB",
        4.0, le=False)
    row("vowel_band_change_db", "vocalmix", "sibilants", abs(f["vowel_band_change_db"]), "dB",
        0.5)
    row("vowel_loudness_change_lu", "vocalmix", "sibilants",
        abs(f["vowel_loudness_change_lu"]), "LU", 0.5)
    row("sibilant_share", "vocalmix", "sibilants", f["report"]["sibilant_share"], "")
    return rows


def stereo_take(minutes: float) -> np.ndarray:
    """A stereo take (right channel 2 dB down) with sibilants and independent pink noise."""
    m = _material()
    take = m.sung_take(60.0 * minutes, seed=7, sibilants=True)
    x = np.concatenate([take.audio, take.audio * np.float32(10 ** (-2 / 20))])
    return m.add_noise(m.Take(x, SR, take.notes), 20.0, np.random.default_rng(443))


def measure(impl: str, path: Path) -> dict:
    """One run of ``impl`` on the saved take in a fresh process (one BLAS/FFT thread)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, impl, str(path), str(SR)],
                          capture_output=True, text=True, check=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cost_rows(minutes: float, memory_minutes: float, reps: int) -> list[dict]:
    impls = ["vocalmix"]
    if _noisereduce() is not None:
        impls += ["noisereduce_stationary", "noisereduce_nonstationary"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for length, runs in ((minutes, reps), (memory_minutes, 1)):
            if length <= 0:
                continue
            path = Path(tmp) / f"take_{length:g}min.npy"
            np.save(path, stereo_take(length))
            material = f"stereo_{length:g}min"
            for impl in impls if length == minutes else ["vocalmix"]:
                results = [measure(impl, path) for _ in range(runs)]
                wall = statistics.median(r["wall_s"] for r in results)
                cpu = statistics.median(r["cpu_s"] for r in results)
                peak = max(r["peak_rss_mb"] for r in results)
                rise = max(r["peak_rss_mb"] - r["baseline_rss_mb"] for r in results)
                input_mb = path.stat().st_size / 2 ** 20
                target = 5.0 * length / 3.0 if impl == "vocalmix" else None
                for figure, value, unit, tgt in (("wall_s", wall, "s", target),
                                                 ("cpu_s", cpu, "s", None),
                                                 ("peak_rss_mb", peak, "MB", None),
                                                 ("rss_rise_mb", rise, "MB", None),
                                                 ("input_mb", input_mb, "MB", None)):
                    met = "" if tgt is None else ("yes" if value <= tgt else "no")
                    rows.append({"figure": figure, "implementation": impl,
                                 "material": material, "value": value, "unit": unit,
                                 "target": tgt, "met": met})
                print(f"{impl:26s} {material}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, peak RSS "
                      f"{peak:7.0f} MB (+{rise:.0f} over the loaded {input_mb:.0f} MB input)",
                      flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    from vocalmix.tables import fixed, write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0, help="take length for all figures")
    ap.add_argument("--memory-minutes", type=float, default=10.0,
                    help="a longer take for the memory figure (0: skip)")
    ap.add_argument("--reps", type=int, default=3, help="runs of each timing (median)")
    ap.add_argument("--out", type=Path, default=OUT / "cleanup.csv")
    args = ap.parse_args(argv)
    rows = quality_rows(args.minutes) + cost_rows(args.minutes, args.memory_minutes, args.reps)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cols = ["figure", "implementation", "material", "value", "unit", "target", "met"]
    write_table(args.out, rows, cols, cell=fixed(3, nonfinite=None), delimiter=",")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
