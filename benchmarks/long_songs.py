"""Benchmark: the whole pipeline on full-length songs, per rule (issue 19).

Builds a MUSDB18-HQ-layout dataset of generated songs (the demo generator; nothing real):
``test/long_SSSSs`` (SSSS: seconds) for each length of ``--minutes`` (default 3, 5, 8 and 10 minutes) and
``train/short_KK`` training songs of ``--train-seconds`` (the models and the genre
classifier need a training split; the demo corpus is off). Stems are 16-bit WAV as in
MUSDB18-HQ: ``vocals`` (the professional wet vocal), ``other``, ``drums`` and ``bass`` (the
backing split into halves and quarters), ``mixture``; a ``genres.tsv`` track list gives
each song its generated genre.

Then runs ``snakemake all`` on it in its own working directory (``--workdir``; the
repository's ``results/`` is not touched), with the repository's ``config.yaml`` and an
overlay that replaces the datasets, and reads every job's Snakemake ``benchmark:`` file:
wall seconds, CPU seconds and MB written (``io_out``), and every job's peak RSS: the larger of
the kernel's high-water mark the stage runner logs at the end of the job (``peak RSS ... MiB``:
exact, for the job's largest process) and Snakemake's own ``max_rss`` (the process tree's sum,
so it sees a job's worker processes, but sampled every 0.5 s, then every 30 s after the first
15 s, so it misses a long job's peak; also kept alone as ``sampled_rss_mib``). For the per-track rules the job's
song length is known from its track id.

Writes ``benchmarks/results/long_songs.csv`` (one row per job: rule, job, song minutes, wall,
CPU, peak RSS MiB, MB written), ``benchmarks/results/long_songs_summary.csv`` (per rule:
jobs, total CPU s, peak RSS on the shortest and the longest song and their ratio, and the
disk of ``results/`` and ``listening_test/waet/`` per input minute) and the plot
``benchmarks/results/long_songs_rss.png`` (peak RSS against song length, one line per
per-track rule). It runs by hand, not in the test suite: the pipeline took 340 s on 2
cores, plus the songs' generation on a first run (they are kept in ``--workdir``).

    .venv/bin/python benchmarks/long_songs.py [--minutes 3 5 8 10] [--jobs 2]
        [--workdir /tmp/vocalmix-long] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from vocalmix.audio import write_audio
from vocalmix.tables import fixed, write_table

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
SR = 44100
GENRES = ("pop", "rock", "hiphop", "ballad")
JOB_COLUMNS = ("rule", "job", "song_min", "wall_s", "cpu_s", "max_rss_mib", "sampled_rss_mib",
               "io_out_mb")
#: the stage runner's last log line: the kernel's high-water mark of the job's processes
PEAK_LINE = re.compile(r"done in [0-9.]+ s, (?:CPU [0-9.]+ s, )?peak RSS ([0-9.]+) MiB")
SUMMARY_COLUMNS = ("rule", "jobs", "cpu_s", "max_rss_mib", "rss_shortest_mib",
                   "rss_longest_mib", "rss_longest_over_shortest", "io_out_mb", "note")


def build_dataset(root: Path, minutes: list[float], train: int, train_s: float,
                  seed: int) -> float:
    """The MUSDB18-HQ-layout dataset; returns its total minutes of audio."""
    from vocalmix.corpus.demo import generate_song

    songs = [("test", f"long_{m * 60:04.0f}s", m * 60.0) for m in minutes]
    songs += [("train", f"short_{k:02d}", train_s) for k in range(train)]
    rows = []
    for k, (subset, name, seconds) in enumerate(songs):
        d = root / subset / name
        genre = GENRES[k % len(GENRES)]
        rows.append({"track": name, "genre": genre})
        if (d / "mixture.wav").exists():
            continue
        print(f"generating {subset}/{name} ({seconds / 60:.1f} min, {genre})", flush=True)
        audio, _ = generate_song(name, genre, duration_s=seconds, sample_rate=SR,
                                 seed=seed + k)
        back = audio["backing"]
        stems = {"vocals": audio["vocal"], "other": back * np.float32(0.5),
                 "drums": back * np.float32(0.25), "bass": back * np.float32(0.25),
                 "mixture": audio["mixture"]}
        d.mkdir(parents=True, exist_ok=True)
        for stem, x in stems.items():
            write_audio(d / f"{stem}.wav", x, SR, subtype="PCM_16", clip="clip")
        del audio, stems
    write_table(root / "genres.tsv", rows, ("track", "genre"))
    return sum(s for _, _, s in songs) / 60.0


def run_pipeline(workdir: Path, data: Path, jobs: int) -> float:
    overlay = workdir / "overlay.yaml"
    overlay.write_text("datasets:\n  - adapter: musdb18hq\n"
                       f"    root: {data}\n    tracklist: {data / 'genres.tsv'}\n")
    run = workdir / "run"
    run.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(run), "--configfile", str(REPO / "config.yaml"), str(overlay),
           "--cores", str(jobs), "all"]
    print(" ".join(cmd), flush=True)
    start = time.perf_counter()
    with open(workdir / "snakemake.log", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed ({proc.returncode}); see {workdir / 'snakemake.log'}")
    return time.perf_counter() - start


def disk_mb(run: Path) -> tuple[float, float]:
    """MB on disk of ``results/`` and of ``listening_test/waet/`` in ``run``, measured as
    ``benchmarks/disk.py`` does: allocated blocks, each hard-linked file once (the WAET
    stimuli are links to the renders and belong to ``results/``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from disk import measure

    folders, _ = measure(run)
    waet = folders.pop("listening_test/waet", 0)
    return sum(folders.values()) / 1e6, waet / 1e6


def read_benchmarks(run: Path) -> list[dict]:
    rows = []
    root = run / "results" / "benchmarks"
    for tsv in sorted(root.rglob("*.tsv")):
        rel = tsv.relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        job = str(rel.with_suffix(""))
        with open(tsv, newline="") as fh:
            rec = list(csv.DictReader(fh, delimiter="\t"))
        if not rec:
            continue
        r = rec[-1]
        sampled = float(r["max_rss"]) if r["max_rss"] not in ("", "-", "NA") else None
        log_path = run / "results" / "logs" / rel.with_suffix(".log")
        peaks = PEAK_LINE.findall(log_path.read_text()) if log_path.exists() else []
        m = re.search(r"long[-_](\d+)s", job)
        s = re.search(r"short[-_]\d+", job)
        rows.append({"rule": rule, "job": job,
                     "song_min": int(m.group(1)) / 60.0 if m else (None if not s else "train"),
                     "wall_s": float(r["s"]), "cpu_s": float(r.get("cpu_time") or 0.0),
                     # the exact peak of the job's largest process from the log where the
                     # stage runner wrote it; Snakemake's samples sum the process tree (a job
                     # with worker processes, ingest) but miss peaks between samples: the
                     # larger of the two
                     "max_rss_mib": max([float(p) for p in peaks[-1:]]
                                        + ([sampled] if sampled is not None else []),
                                        default=None),
                     "sampled_rss_mib": sampled,
                     "io_out_mb": float(r["io_out"]) if r.get("io_out") not in (None, "", "-")
                     else None})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    by_rule = defaultdict(list)
    for r in rows:
        by_rule[r["rule"]].append(r)
        if r["rule"] == "render":  # and per condition: they differ in what they hold
            by_rule[f"render/{Path(r['job']).name}"].append(r)
    out = []
    for rule, jobs in sorted(by_rule.items()):
        long = sorted((r for r in jobs if isinstance(r["song_min"], float)
                       and r["max_rss_mib"] is not None), key=lambda r: r["song_min"])
        row = {"rule": rule, "jobs": len(jobs), "cpu_s": sum(r["cpu_s"] for r in jobs),
               "max_rss_mib": max((r["max_rss_mib"] or 0.0) for r in jobs),
               "io_out_mb": sum((r["io_out_mb"] or 0.0) for r in jobs)}
        if len(long) >= 2:
            lo = [r["max_rss_mib"] for r in long if r["song_min"] == long[0]["song_min"]]
            hi = [r["max_rss_mib"] for r in long if r["song_min"] == long[-1]["song_min"]]
            row.update(rss_shortest_mib=max(lo), rss_longest_mib=max(hi),
                       rss_longest_over_shortest=max(hi) / max(lo))
        out.append(row)
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vocalmix.files import save_figure

    by_rule = defaultdict(dict)
    for r in rows:
        if isinstance(r["song_min"], float) and r["max_rss_mib"] is not None:
            by_rule[r["rule"]][r["song_min"]] = max(r["max_rss_mib"],
                                                   by_rule[r["rule"]].get(r["song_min"], 0.0))
    fig, ax = plt.subplots(figsize=(8, 5))
    for rule, pts in sorted(by_rule.items()):
        xs = sorted(pts)
        ax.plot(xs, [pts[x] for x in xs], marker="o", label=rule)
    ax.axhline(2048, color="k", ls="--", lw=0.8, label="2 GiB target")
    ax.set_xlabel("song length (min)")
    ax.set_ylabel("peak RSS (MiB)")
    ax.set_title("Peak memory per job against song length")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[3.0, 5.0, 8.0, 10.0])
    ap.add_argument("--train-songs", type=int, default=8)
    ap.add_argument("--train-seconds", type=float, default=30.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/vocalmix-long"))
    ap.add_argument("--seed", type=int, default=1900)
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    ap.add_argument("--fresh", action="store_true", help="remove an earlier run first")
    ap.add_argument("--collect-only", action="store_true",
                    help="do not run: collect the benchmark files of the run in --workdir "
                         "(also of an unfinished one: the jobs that finished)")
    args = ap.parse_args()
    wd = args.workdir.resolve()
    if args.fresh and (wd / "run").exists():
        shutil.rmtree(wd / "run")
    data = wd / "data"
    minutes = build_dataset(data, args.minutes, args.train_songs, args.train_seconds,
                            args.seed)
    wall = math.nan if args.collect_only else run_pipeline(wd, data, args.jobs)
    rows = read_benchmarks(wd / "run")
    summary = summarise(rows)
    results_mb, waet_mb = disk_mb(wd / "run")
    summary.append({"rule": "TOTAL", "jobs": len(rows), "cpu_s": sum(r["cpu_s"] for r in rows),
                    "max_rss_mib": max((r["max_rss_mib"] or 0.0) for r in rows),
                    "io_out_mb": results_mb + waet_mb,
                    "note": f"wall {wall:.0f} s on {args.jobs} jobs, {os.cpu_count()} cores; "
                            f"{minutes:.1f} min of input audio; results/ {results_mb:.0f} MB"
                            f" + waet {waet_mb:.0f} MB = "
                            f"{(results_mb + waet_mb) / minutes:.1f} MB per input minute"})
    OUT.mkdir(parents=True, exist_ok=True)
    write_table(OUT / "long_songs.csv", rows, JOB_COLUMNS, cell=fixed(2), delimiter=",")
    write_table(OUT / "long_songs_summary.csv", summary, SUMMARY_COLUMNS, cell=fixed(2),
                delimiter=",")
    plot(rows, OUT / "long_songs_rss.png")
    for r in summary:
        ratio = r.get("rss_longest_over_shortest")
        print(f"{r['rule']:28s} jobs {r['jobs']:4d}  CPU {r['cpu_s']:9.1f} s  peak "
              f"{r['max_rss_mib']:8.0f} MiB" + (f"  longest/shortest {ratio:.2f}" if ratio
                                                 else "") + (f"  {r['note']}" if r.get("note")
                                                             else ""))
    if not args.keep and not args.collect_only:
        shutil.rmtree(wd / "run", ignore_errors=True)


if __name__ == "__main__":
    main()
