"""Benchmark: the pretrained separator (Spleeter 2stems in PyTorch, the default backend).

Quality: the three MUSDB18-HQ previews in ``../shared/data/real/musdb18hq_preview/test`` are
separated by ``vocalmix separate MIX -o DIR`` with the default backend (a subprocess: the real
command, its start-up included in ``seconds``), and the written ``vocal.wav`` is scored
against the true vocals:

* ``vocal_si_sdr_gain_db`` -- SI-SDR of the estimate minus SI-SDR of the mixture, both
  pooled over the two channels (:func:`vocalmix.separation.metrics.si_sdr`, the project's
  measure; targets of issue 18: mean >= +12.5 dB, each song >= +10 dB);
* ``vocal_si_sdr_gain_mono_db`` -- the same on the channel average (the measure behind the
  issue's figures for the TensorFlow original);
* ``backing_si_sdr_gain_db`` -- the backing's gain.

When ``make setup-spleeter`` has installed Deezer's TensorFlow spleeter (``.venv-spleeter``
with the same checkpoint), each preview is also separated by the ``spleeter`` backend
(``backend=spleeter-tf`` rows) and ``agreement_si_sdr_db`` gives the SI-SDR of the PyTorch
estimate against the TensorFlow one (issue target: the two vocal gains within 0.5 dB).

Speed and memory: the real 133-s song of ``full_mixes`` repeated to 240 s (the project's
"4-minute song", as ``benchmarks/separation.py``), written as a float WAV and separated by
``vocalmix separate`` (2 threads); and the 133-s OGG itself. ``seconds`` is the command's
wall time (start-up, decoding, separation, writing), ``cpu_s`` its user + system time and
``peak_rss_mib`` its peak resident memory (targets: <= 20 s, <= 2 GiB on 2 cores).
``loadavg`` is the machine's 1-minute load when the row was measured: on a shared machine a
load above the core count stretches ``seconds`` but not ``cpu_s``.

Writes ``benchmarks/results/separation_pretrained.csv``.

    .venv/bin/python benchmarks/separation_pretrained.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vocalmix.audio import read_audio, write_audio
from vocalmix.separation.metrics import si_sdr
from vocalmix.tables import fixed, write_table

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
REAL = REPO.parent / "shared" / "data" / "real"
PREVIEWS = REAL / "musdb18hq_preview" / "test"
FULL_MIX = REAL / "full_mixes" / "Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg"
VOCALMIX = Path(sys.executable).parent / "vocalmix"
COLUMNS = ("kind", "track", "backend", "audio_s", "seconds", "cpu_s", "peak_rss_mib",
           "vocal_si_sdr_gain_db", "vocal_si_sdr_gain_mono_db", "backing_si_sdr_gain_db",
           "agreement_si_sdr_db", "loadavg")


def _run_cli(mix: Path, out: Path, *extra: str) -> dict:
    """``vocalmix separate MIX -o OUT`` in a subprocess: wall time, CPU time, peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen([str(VOCALMIX), "separate", str(mix), "-o", str(out), *extra],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    stderr = proc.stderr.read()  # the command writes little; read before waiting
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not (out / "vocal.wav").exists():
        raise SystemExit(f"vocalmix separate {mix} failed: {stderr.strip()}")
    return {"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024}


def _gains(ref: np.ndarray, mix: np.ndarray, est: np.ndarray) -> tuple[float, float]:
    joint = si_sdr(ref, est) - si_sdr(ref, mix)
    mono = si_sdr(ref.mean(0), est.mean(0)) - si_sdr(ref.mean(0), mix.mean(0))
    return joint, mono


def quality(tmp: Path) -> list[dict]:
    rows = []
    have_tf = (REPO / ".venv-spleeter" / "bin" / "python").exists()
    for song in sorted(PREVIEWS.iterdir()):
        mix, sr = read_audio(song / "mixture.wav")
        vocal, _ = read_audio(song / "vocals.wav")
        backing = mix - vocal
        out = tmp / song.name
        facts = _run_cli(song / "mixture.wav", out)
        est, _ = read_audio(out / "vocal.wav")
        est_b, _ = read_audio(out / "backing.wav")
        joint, mono = _gains(vocal, mix, est)
        row = {"kind": "quality", "track": song.name, "backend": "pretrained",
               "audio_s": mix.shape[1] / sr, **facts, "vocal_si_sdr_gain_db": joint,
               "vocal_si_sdr_gain_mono_db": mono,
               "backing_si_sdr_gain_db": si_sdr(backing, est_b) - si_sdr(backing, mix),
               "loadavg": os.getloadavg()[0]}
        rows.append(row)
        print(f"{song.name}: pretrained {joint:+.2f} dB (mono {mono:+.2f}) "
              f"in {facts['seconds']:.1f} s")
        if have_tf:
            out_tf = tmp / f"{song.name}-tf"
            facts = _run_cli(song / "mixture.wav", out_tf, "--backend", "spleeter")
            tf_est, _ = read_audio(out_tf / "vocal.wav")
            tf_b, _ = read_audio(out_tf / "backing.wav")
            tj, tm = _gains(vocal, mix, tf_est)
            agree = si_sdr(tf_est, est)
            row["agreement_si_sdr_db"] = agree
            rows.append({"kind": "quality", "track": song.name, "backend": "spleeter-tf",
                         "audio_s": mix.shape[1] / sr, **facts, "vocal_si_sdr_gain_db": tj,
                         "vocal_si_sdr_gain_mono_db": tm,
                         "backing_si_sdr_gain_db": si_sdr(backing, tf_b) - si_sdr(backing, mix),
                         "agreement_si_sdr_db": agree, "loadavg": os.getloadavg()[0]})
            print(f"{song.name}: TensorFlow {tj:+.2f} dB (mono {tm:+.2f}) in "
                  f"{facts['seconds']:.1f} s; the two estimates agree at {agree:.1f} dB SI-SDR")
    for backend in ("pretrained", "spleeter-tf"):
        sel = [r for r in rows if r["backend"] == backend]
        if sel:
            rows.append({"kind": "quality_mean", "track": "musdb18hq_preview (3)",
                         "backend": backend,
                         **{k: float(np.mean([r[k] for r in sel]))
                            for k in ("vocal_si_sdr_gain_db", "vocal_si_sdr_gain_mono_db",
                                      "backing_si_sdr_gain_db", "seconds")}})
    return rows


def speed(tmp: Path, repeats: int) -> list[dict]:
    rows = []
    song, sr = read_audio(FULL_MIX)
    reps = -(-240 * sr // song.shape[1])
    long = np.tile(song, (1, reps))[:, :240 * sr]
    long_path = tmp / "four_minutes.wav"
    write_audio(long_path, long, sr)
    del long, song
    for label, path in (("4-minute song (133-s full mix repeated to 240 s)", long_path),
                        (FULL_MIX.name, FULL_MIX)):
        audio_s = read_audio(path)[0].shape[1] / sr
        best = None
        for r in range(repeats):
            out = tmp / f"speed-{r}"
            load = os.getloadavg()[0]
            facts = _run_cli(path, out)
            shutil.rmtree(out)
            if best is None or facts["seconds"] < best["seconds"]:
                best = {**facts, "loadavg": load}
        rows.append({"kind": "speed", "track": label, "backend": "pretrained",
                     "audio_s": audio_s, **best})
        print(f"{label}: {audio_s:.0f} s of audio in {best['seconds']:.1f} s wall, "
              f"{best['cpu_s']:.1f} s CPU, peak RSS {best['peak_rss_mib']:.0f} MiB "
              f"(load {best['loadavg']:.1f})")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1, help="speed runs per song (best kept)")
    args = ap.parse_args()
    if not PREVIEWS.is_dir():
        print(f"{REAL} is absent: nothing to benchmark")
        return 1
    with tempfile.TemporaryDirectory(prefix="vocalmix-bench-") as tmp:
        rows = quality(Path(tmp)) + speed(Path(tmp), max(1, args.repeats))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "separation_pretrained.csv"
    write_table(path, rows, COLUMNS, cell=fixed(3, nonfinite=None), delimiter=",")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
