"""Benchmark: the effect chain's render speed and ``vocalmix mix`` on a 3-minute song.

* Chain render (one core): a rule-based recipe rendered on a 3-minute demo song, without
  and with pitch correction (targets: >= 100x and >= 5x real time).
* ``vocalmix mix`` of the same 3-minute song as a whole process, each system (target:
  under 15 s).
* f0 tracker: raw pitch accuracy on the MIR-1K clips in ``../shared/data/real/mir1k``
  (reference: PitchLabel semitones per 20 ms, 0 = unvoiced; target >= 90 %) and its speed.

Writes ``benchmarks/results/mix.csv``.

    .venv/bin/python benchmarks/mix.py
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from vocalmix.audio import read_audio, write_audio

OUT = Path(__file__).resolve().parent / "results"
REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"
SR = 44100


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from vocalmix.corpus import demo
    from vocalmix.measure.pitch import midi_to_hz, raw_pitch_accuracy, track_pitch
    from vocalmix.dsp.chain import render
    from vocalmix.dsp.recipe import PitchCorrection
    from vocalmix.mixing.base import MixContext
    from vocalmix.mixing.registry import get_mixer
    from vocalmix.features.summary import read_genre_stats
    from vocalmix.mixing.api import DEFAULT_GENRE_STATS
    from dataclasses import replace

    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    audio, truth = demo.generate_song("demo_000", "pop", duration_s=180.0, sample_rate=SR, seed=1)
    vocal, backing = audio["raw_vocal"], audio["backing"]
    dur = vocal.shape[1] / SR
    table = read_genre_stats(DEFAULT_GENRE_STATS)
    t0 = time.perf_counter()
    recipe = get_mixer("rule_based").choose(vocal, backing, SR,
                                            MixContext(genre="pop", genre_stats=table)).recipe
    rows.append({"measure": "rule-based analysis (3-min song)", "seconds": time.perf_counter() - t0,
                 "x_realtime": dur / (time.perf_counter() - t0)})
    render(vocal[:, :SR], backing[:, :SR], SR, recipe)  # warm-up
    for label, rec in (("chain render, no pitch correction", recipe),
                       ("chain render, with pitch correction",
                        replace(recipe, vocal=replace(recipe.vocal, pitch_correction=PitchCorrection(
                            key=truth["key"], mode=truth["mode"]))))):
        t0 = time.perf_counter()
        render(vocal, backing, SR, rec)
        dt = time.perf_counter() - t0
        rows.append({"measure": label, "seconds": dt, "x_realtime": dur / dt})
    with tempfile.TemporaryDirectory() as tmp:
        v, b = f"{tmp}/vocal.wav", f"{tmp}/backing.wav"
        write_audio(v, vocal, SR)
        write_audio(b, backing, SR)
        vocalmix = str(Path(sys.executable).parent / "vocalmix")
        for system, extra in (("rule_based", []), ("preset", []),
                              ("rule_based", ["--pitch-correct"])):
            t0 = time.perf_counter()
            subprocess.run([vocalmix, "mix", "--vocal", v, "--backing", b, "-o",
                            f"{tmp}/mix.wav", "--system", system, *extra], check=True,
                           capture_output=True)
            dt = time.perf_counter() - t0
            rows.append({"measure": f"vocalmix mix --system {system} {' '.join(extra)}".strip()
                         + " (3-min song, whole process)", "seconds": dt, "x_realtime": dur / dt})
    mir = REAL / "mir1k"
    if mir.is_dir():
        hits = total = 0
        secs = audio_s = 0.0
        for wav in sorted((mir / "Wavfile").glob("*.wav")):
            x, sr = read_audio(wav)
            labels = np.loadtxt(mir / "PitchLabel" / f"{wav.stem}.pv")
            ref = np.where(labels > 0, midi_to_hz(labels), 0.0)
            t0 = time.perf_counter()
            track = track_pitch(x[1:], sr)
            secs += time.perf_counter() - t0
            audio_s += x.shape[1] / sr
            est = track.f0_at(0.02 + 0.02 * np.arange(labels.size))
            voiced = ref > 0
            hits += raw_pitch_accuracy(ref, est) * voiced.sum()
            total += voiced.sum()
        rows.append({"measure": f"f0 tracker raw pitch accuracy on MIR-1K ({total} voiced "
                                f"frames) = {100 * hits / total:.2f} %", "seconds": secs,
                     "x_realtime": audio_s / secs})
    with open(OUT / "mix.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["measure", "seconds", "x_realtime"])
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
    for r in rows:
        print(f"{r['measure']:70s} {r['seconds']:7.2f} s  {r['x_realtime']:7.1f}x real time")
    print(f"wrote {OUT / 'mix.csv'}")


if __name__ == "__main__":
    main()
