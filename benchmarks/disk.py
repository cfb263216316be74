"""Benchmark: disk used by a finished pipeline run, per folder and per minute of input audio
(issue 19: at most 30 MB per minute for ``results/`` plus ``listening_test/waet/``).

Reads a working directory after ``snakemake all`` (default: the repository, after
``make run``): the bytes allocated on disk (``du``'s measure: 512-byte blocks) by every
file under ``results/`` and ``listening_test/waet/``, each hard-linked file counted once
(the WAET stimuli are links to the renders; the first path met, under ``results/``, owns
it), grouped by top-level folder; and the input minutes, the sum of ``duration_s`` in
``results/corpus/tracks.tsv``. MB are 10**6 bytes.

Writes ``benchmarks/results/disk.csv``: one row per (label, folder) with MB and MB per input
minute, plus a ``total`` row; rows of other labels are kept, so ``--label before`` on the
old code and ``--label after`` on the new one sit side by side. ``--patterns`` prints the
bytes per file pattern (track ids and version numbers folded) to find the big consumers.
It runs by hand, not in the test suite.

    make run JOBS=2 && .venv/bin/python benchmarks/disk.py --label after [--patterns]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from collections import Counter
from pathlib import Path

from vocalmix.tables import write_table

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results" / "disk.csv"
ROOTS = ("results", "listening_test/waet")
COLUMNS = ("label", "part", "mb", "mb_per_input_min", "input_min", "note")
TARGET_MB_PER_MIN = 30.0


def input_minutes(workdir: Path) -> float:
    """Minutes of input audio: the tracks' durations in the manifest."""
    with open(workdir / "results/corpus/tracks.tsv", newline="") as fh:
        return sum(float(r["duration_s"]) for r in csv.DictReader(fh, delimiter="\t")) / 60.0


def _part(rel: Path) -> str:
    parts = rel.parts
    if parts[0] == "listening_test":
        return "listening_test/waet"
    return "/".join(parts[:2]) if len(parts) > 2 else "results (files)"


def _pattern(rel: Path) -> str:
    text = re.sub(r"(?<=/)[a-z0-9]+_[0-9]{3}(?=/)", "<track>", str(rel))
    return re.sub(r"/v[0-9]+\.", "/v<k>.", re.sub(r"_[0-9]{3}\.", "_<n>.", text))


def measure(workdir: Path) -> tuple[Counter, Counter]:
    """(bytes per folder, bytes per file pattern), each inode counted once."""
    seen: set[tuple[int, int]] = set()
    folders: Counter = Counter()
    patterns: Counter = Counter()
    for root in ROOTS:
        base = workdir / root
        for dirpath, _, files in os.walk(base) if base.exists() else ():
            for name in files:
                path = Path(dirpath) / name
                st = path.lstat()
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                rel = path.relative_to(workdir)
                folders[_part(rel)] += st.st_blocks * 512
                patterns[_pattern(rel)] += st.st_blocks * 512
    return folders, patterns


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default=str(REPO), help="the run's working directory")
    ap.add_argument("--label", required=True, help="name of this measurement (before, after)")
    ap.add_argument("--note", default="", help="free text stored with the total row")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--patterns", action="store_true", help="print bytes per file pattern")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir)
    minutes = input_minutes(workdir)
    folders, patterns = measure(workdir)
    total = sum(folders.values())
    rows = [{"label": args.label, "part": part, "mb": b / 1e6,
             "mb_per_input_min": b / 1e6 / minutes, "input_min": minutes, "note": ""}
            for part, b in sorted(folders.items(), key=lambda kv: -kv[1])]
    rows.append({"label": args.label, "part": "total", "mb": total / 1e6,
                 "mb_per_input_min": total / 1e6 / minutes, "input_min": minutes,
                 "note": args.note})
    out = Path(args.out)
    kept = []
    if out.exists():
        with open(out, newline="") as fh:
            kept = [r for r in csv.DictReader(fh) if r["label"] != args.label]
    fmt = {"mb": "{:.1f}", "mb_per_input_min": "{:.2f}", "input_min": "{:.2f}"}
    write_table(out, kept + rows, COLUMNS, delimiter=",",
                cell=lambda v: "" if v is None else (f"{v:.2f}" if isinstance(v, float)
                                                     else str(v)))
    for r in rows:
        print(f"{r['part']:32s} {fmt['mb'].format(r['mb']):>9s} MB "
              f"{fmt['mb_per_input_min'].format(r['mb_per_input_min']):>8s} MB/min")
    print(f"input: {minutes:.2f} min; target <= {TARGET_MB_PER_MIN:.0f} MB/min")
    if args.patterns:
        for pat, b in patterns.most_common(40):
            print(f"{b / 1e6:9.1f} MB  {pat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
