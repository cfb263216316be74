"""Benchmark: ``vocalmix loudness`` vs ``ffmpeg -af ebur128`` vs pyloudnorm on one 20-minute
stereo 44.1 kHz file, each as a whole process, in one run.

Target: ``vocalmix loudness`` faster than ffmpeg's ebur128 filter as a whole process
(ratio < 1.0). ffmpeg comes from Debian: this script installs it with apt-get when it is
missing and it runs as root; otherwise it says how. Writes
``benchmarks/results/loudness.csv`` (tool, rep, wall_s, x_realtime, ratio_to_ffmpeg) and
prints the readings of each tool for the same file.

    .venv/bin/python benchmarks/loudness.py [--minutes 20] [--reps 5]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def ensure_ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path:
        return path
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "ffmpeg"], check=False,
                       capture_output=True)
        if not shutil.which("ffmpeg"):
            subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "ffmpeg"], check=True,
                           capture_output=True)
    path = shutil.which("ffmpeg")
    if not path:
        sys.exit("ffmpeg not found: install it (Debian: sudo apt-get install ffmpeg)")
    return path


def make_file(path: Path, minutes: float) -> None:
    """Music-like stereo test signal (noise bursts and tones with level changes)."""
    import numpy as np
    import soundfile as sf

    sr = 44100
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", sr, 2, subtype="PCM_16") as fh:
        for _ in range(int(minutes * 6)):
            n = 10 * sr
            t = np.arange(n) / sr
            x = 0.05 * rng.standard_normal((n, 2))
            x += 0.1 * np.sin(2 * np.pi * rng.uniform(100, 1000) * t)[:, None]
            x *= rng.uniform(0.1, 1.0)
            fh.write(x)


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout + out.stderr


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    ffmpeg = ensure_ffmpeg()
    vocalmix = shutil.which("vocalmix") or str(Path(sys.executable).parent / "vocalmix")
    OUT.mkdir(parents=True, exist_ok=True)
    pyln_code = ("import sys, soundfile as sf, pyloudnorm as pyln; x, sr = sf.read(sys.argv[1]); "
                 "m = pyln.Meter(sr); print(m.integrated_loudness(x), m.loudness_range(x))")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        make_file(path, args.minutes)
        duration = args.minutes * 60
        tools = {
            "vocalmix loudness": [vocalmix, "loudness", "--json", str(path)],
            "ffmpeg ebur128": [ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-af",
                               "ebur128=peak=sample", "-f", "null", "-"],
            "pyloudnorm (integrated + loudness_range)": [sys.executable, "-c", pyln_code,
                                                        str(path)],
        }
        rows, readings = [], {}
        for rep in range(args.reps):
            for name, cmd in tools.items():
                if name.startswith("pyloudnorm") and rep >= 2:
                    continue  # slow; two runs are enough
                wall, text = timed(cmd)
                readings[name] = text.strip().splitlines()[-12:]
                rows.append({"tool": name, "rep": rep, "wall_s": round(wall, 3),
                             "x_realtime": round(duration / wall, 1)})
    med = {name: statistics.median(r["wall_s"] for r in rows if r["tool"] == name)
           for name in tools}
    for r in rows:
        r["ratio_to_ffmpeg"] = round(r["wall_s"] / med["ffmpeg ebur128"], 3)
    with open(OUT / "loudness.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{args.minutes:.0f}-minute stereo 44.1 kHz file, whole processes, medians:")
    for name, m in med.items():
        print(f"  {name:42s} {m:6.2f} s  {duration / m:7.0f}x real time  "
              f"ratio to ffmpeg {m / med['ffmpeg ebur128']:.2f}")
    for name, lines in readings.items():
        print(f"--- {name}:\n   " + "\n   ".join(lines[-6:]))
    print(f"wrote {OUT / 'loudness.csv'}")


if __name__ == "__main__":
    main()
