"""Benchmark: feature extraction for one 4-minute track (target: under 2 s of CPU).

Generates a 4-minute demo song (vocal, backing, mixture; the raw take is left out, as in
the target's statement), writes it as the ingestion would, then times
``vocalmix.features.extract.extract_track`` in this process (imports excluded) and as a
whole process (``python -c`` incl. imports). Writes ``benchmarks/results/features.csv``.

    .venv/bin/python benchmarks/features.py
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from vocalmix.audio import write_audio

OUT = Path(__file__).resolve().parent / "results"


def main() -> None:
    from vocalmix.corpus import demo
    from vocalmix.features.extract import FeatureSettings, extract_track

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        audio, _ = demo.generate_song("demo_000", "pop", duration_s=240.0, sample_rate=44100,
                                      seed=1)
        paths = {}
        for role in ("vocal", "backing", "mixture"):
            paths[role] = f"{tmp}/{role}.wav"
            write_audio(paths[role], audio[role], 44100)
        extract_track(paths, 44100, FeatureSettings())  # warm-up (first-call costs)
        rows = []
        for rep in range(3):
            c0, w0 = time.process_time(), time.perf_counter()
            extract_track(paths, 44100, FeatureSettings())
            rows.append({"measure": "in_process", "rep": rep,
                         "cpu_s": round(time.process_time() - c0, 3),
                         "wall_s": round(time.perf_counter() - w0, 3)})
        code = ("import time; c=time.process_time(); from vocalmix.features.extract import "
                f"FeatureSettings, extract_track; extract_track({paths!r}, 44100, "
                "FeatureSettings()); "
                "print(time.process_time() - c)")
        for rep in range(3):
            w0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True)
            rows.append({"measure": "whole_process_incl_imports", "rep": rep,
                         "cpu_s": round(float(out.stdout.strip()), 3),
                         "wall_s": round(time.perf_counter() - w0, 3)})
    with open(OUT / "features.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        print(r)
    print(f"wrote {OUT / 'features.csv'} (target: under 2 s of CPU for a 4-minute track)")


if __name__ == "__main__":
    main()
