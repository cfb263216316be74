"""Benchmark: peak memory and time of the ingestion checkpoint against song length (issue 19).

Runs the stage :func:`vocalmix.stages.ingest.ingest` (as the rule ``ingest`` calls it, with
its ``threads``) in a fresh Python process on corpora made of the full-length songs that
``benchmarks/long_songs.py`` generates (MUSDB18-HQ layout, adapter ``musdb18hq``): one with
only the 3-minute song, one with only the 10-minute song, and the whole dataset (3, 5, 8,
10 minutes and the 30-s training songs). The one-song corpora are folders of symbolic links
to the song folders in ``--data``; nothing there is written.

Memory is measured as Snakemake's ``benchmark:`` files measure a job: the resident set of
the job's process and all its children, summed, polled here every ``--interval`` seconds
(Snakemake polls every 0.5 s for the first 15 s, then every 30 s: this is the finer, never
lower, figure). Also reported: the wall time and the CPU time of the process tree.

``--sample-rate`` ingests at another rate than the files' 44.1 kHz (e.g. 48000), so every
role is resampled and written: the streaming resampler's memory at length.

Writes (appends to) ``benchmarks/results/ingest_memory.csv``: one row per code label (``--label``,
e.g. ``before`` for the code of an older commit put first on ``PYTHONPATH``), corpus and rate.

    .venv/bin/python benchmarks/ingest_memory.py --label after [--corpora 3min 10min full]
        [--data /tmp/vocalmix-long/data] [--threads 4] [--sample-rate 44100]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from process_memory import peak_tree_rss_mib, write_merged

OUT = Path(__file__).resolve().parent / "results"
COLUMNS = ("label", "corpus", "songs", "audio_min", "sample_rate", "threads",
           "peak_rss_mib", "wall_s", "cpu_s", "ingested", "rejected", "written_mb",
           "interval_s", "commit")
SINGLE = {"3min": "long_0180s", "5min": "long_0300s", "8min": "long_0480s",
          "10min": "long_0600s"}

CHILD = r"""
import json, sys, time
from vocalmix.stages.ingest import ingest
cfg = json.loads(sys.argv[1])
out = json.loads(sys.argv[2])
ingest({}, out, {"config": cfg}, threads=int(sys.argv[3]))
"""


def corpus_root(data: Path, corpus: str, work: Path) -> Path:
    """The dataset root of one corpus: ``data`` itself, or links to one song's folder."""
    if corpus == "full":
        return data
    song = SINGLE[corpus]
    root = work / "data" / corpus
    link = root / "test" / song
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(data / "test" / song, target_is_directory=True)
    return root


def measure(root: Path, data: Path, out_dir: Path, sample_rate: int, threads: int,
            interval: float) -> dict:

    from vocalmix.config import load_config

    repo = Path(__file__).resolve().parent.parent
    cfg = load_config(repo / "config.yaml", {
        "datasets": [{"adapter": "musdb18hq", "root": str(root),
                      "tracklist": str(data / "genres.tsv")}],
        "sample_rate": sample_rate})
    params = {**{k: cfg[k] for k in ("seed", "sample_rate", "datasets", "demo", "ingest")},
              "commercial_mixes": cfg["commercial_mixes"],
              "separation": {k: cfg["separation"][k] for k in ("split", "train_weight")}}
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out = {"tracks": str(out_dir / "tracks.tsv"), "rejected": str(out_dir / "rejected.tsv"),
           "audio": str(out_dir / "audio")}
    before = os.times()
    start = time.perf_counter()
    popen = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(params), json.dumps(out),
                              str(threads)], stderr=subprocess.DEVNULL)
    peak = peak_tree_rss_mib(popen, interval)
    wall = time.perf_counter() - start
    if popen.returncode != 0:
        raise SystemExit(f"ingest failed ({popen.returncode}) on {root}")
    after = os.times()  # the child tree, reaped
    cpu_s = (after.children_user + after.children_system
             - before.children_user - before.children_system)
    with open(out["tracks"], newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    with open(out["rejected"], newline="") as fh:
        rejected = list(csv.DictReader(fh, delimiter="\t"))
    written = sum(p.stat().st_size for p in Path(out["audio"]).rglob("*") if p.is_file())
    return {"songs": len(rows), "audio_min": sum(float(r["duration_s"]) for r in rows) / 60,
            "peak_rss_mib": peak, "wall_s": wall, "cpu_s": cpu_s, "ingested": len(rows),
            "rejected": len(rejected), "written_mb": written / 1e6}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True, help="code label for the rows (before, after)")
    ap.add_argument("--corpora", nargs="+", default=["3min", "10min", "full"],
                    choices=[*SINGLE, "full"])
    ap.add_argument("--data", type=Path, default=Path("/tmp/vocalmix-long/data"))
    ap.add_argument("--threads", type=int, default=4, help="the rule's threads (4)")
    ap.add_argument("--sample-rate", type=int, default=44100)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/vocalmix-ingest-memory"))
    ap.add_argument("--out", type=Path, default=OUT / "ingest_memory.csv")
    args = ap.parse_args(argv)
    if not (args.data / "test" / SINGLE["10min"]).is_dir():
        raise SystemExit(f"{args.data}: no full-length songs; make them with "
                         "benchmarks/long_songs.py (build_dataset)")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parent).stdout.strip()
    rows = []
    for corpus in args.corpora:
        root = corpus_root(args.data.resolve(), corpus, args.work)
        r = measure(root, args.data.resolve(), args.work / "out" / f"{args.label}_{corpus}",
                    args.sample_rate, args.threads, args.interval)
        row = {"label": args.label, "corpus": corpus, "sample_rate": args.sample_rate,
               "threads": args.threads, "interval_s": args.interval, "commit": commit, **r}
        rows.append(row)
        print(f"{args.label:8s} {corpus:6s} {args.sample_rate} Hz: {r['songs']} song(s), "
              f"{r['audio_min']:.1f} min; peak RSS {r['peak_rss_mib']:.0f} MiB, "
              f"{r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, {r['written_mb']:.0f} MB "
              "written", flush=True)
    write_merged(args.out, rows, COLUMNS, ("label", "corpus", "sample_rate"))


if __name__ == "__main__":
    main()
