"""Benchmark: the ``mir1k`` adapter and ingestion on 1000 clips (issue 19, item 5).

Builds a generated fixture in MIR-1K's layout (nothing real):
``Wavfile/<singer>_<song>_<nn>.wav``, 16-bit stereo at 16 kHz, left = accompaniment (a chord
and a little noise), right = the voice (a sine with vibrato and harmonics under a note
envelope), for MIR-1K's 19 singers with their real numbers of clips (8 to 132, 1000 in all;
the names as MIR-1K spells them, capitals included). Every clip is ``--seconds`` long
(default 4 s, just above the 3-s analysis window ingestion requires; MIR-1K's clips are
3.1-12 s, 8.0 s on average: ``--seconds 8`` gives its 133 minutes).

Then, in a fresh Python process per dataset, it times
:func:`vocalmix.corpus.adapters.discover` (the adapter: what Snakemake runs when it builds the
DAG) and the ingestion stage :func:`vocalmix.stages.ingest.ingest` (read, check, resample to
``config.sample_rate``, write), with the process's peak resident memory (``VmHWM``) after
discovery and, for ingestion, that of the process and its worker processes summed (polled
every 0.1 s, as Snakemake's ``benchmark:`` counts a job), and checks the seeded singer-grouped split: clips and singers per split, and how many
singers are in two splits (must be 0). ``--real DIR`` measures the real MIR-1K (its
``Wavfile/`` folder or the folder above) the same way, as a second row.

Writes ``benchmarks/results/mir1k_adapter.csv`` (one row per dataset) and prints each
singer's split. It runs by hand, not in the test suite: about 2 minutes for the fixture on
one core.

    .venv/bin/python benchmarks/mir1k_adapter.py [--seconds 4] [--threads 1]
        [--real /data/MIR-1K] [--workdir /tmp/vocalmix-mir1k] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from process_memory import peak_tree_rss_mib
from vocalmix import seeding
from vocalmix.tables import fixed, write_table

OUT = Path(__file__).resolve().parent / "results"
SR = 16000
#: MIR-1K's singers and their numbers of clips (1000 in all).
MIR1K_SINGERS = {
    "Ani": 38, "Kenshin": 52, "abjones": 43, "amy": 132, "annar": 42, "ariel": 40, "bobon": 50,
    "bug": 38, "davidson": 52, "fdps": 48, "geniusturtle": 69, "heycat": 40, "jmzen": 52,
    "khair": 44, "leon": 97, "stool": 45, "tammy": 8, "titon": 45, "yifen": 65,
}
CLIPS_PER_SONG = 12
COLUMNS = ("dataset", "clips", "singers", "audio_min", "discover_s", "discover_peak_rss_mib",
           "ingest_wall_s", "ingest_cpu_s", "ingest_peak_rss_mib", "ingest_s_per_audio_min",
           "threads", "sample_rate", "ingested", "rejected", "train_clips", "valid_clips",
           "test_clips", "train_singers", "valid_singers", "test_singers",
           "singers_in_two_splits", "test_singer_names", "valid_singer_names", "written_mb")

CHILD = r"""
import json, os, resource, sys, time
from collections import Counter, defaultdict

def hwm_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

cfg_path, workdir, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = json.load(open(cfg_path))
from vocalmix.corpus.adapters import discover
from vocalmix.stages.ingest import ingest
t0 = time.perf_counter()
cands, rejs = discover(cfg)
discover_s = time.perf_counter() - t0
discover_mib = hwm_mib()
out = {"tracks": os.path.join(workdir, "tracks.tsv"),
       "rejected": os.path.join(workdir, "rejected.tsv"),
       "audio": os.path.join(workdir, "audio")}
t0, c0 = time.perf_counter(), time.process_time()
ingest({}, out, {"config": cfg}, threads=threads)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
children = resource.getrusage(resource.RUSAGE_CHILDREN)
splits = defaultdict(set)
for c in cands:
    splits[c.group].add(c.split)
print(json.dumps({
    "candidates": len(cands), "discovery_rejections": len(rejs), "discover_s": discover_s,
    "discover_peak_rss_mib": discover_mib, "ingest_wall_s": wall,
    "ingest_cpu_s": cpu + children.ru_utime + children.ru_stime,
    "ingest_peak_rss_mib": max(hwm_mib(), children.ru_maxrss / 1024),
    "split_of": {c.track_id: c.split for c in cands},
    "group_of": {c.track_id: c.group for c in cands},
    "group_splits": {g: sorted(s) for g, s in splits.items()}}))
"""


def clip_names(singers: dict[str, int] = MIR1K_SINGERS) -> list[str]:
    """File stems ``<singer>_<song>_<nn>`` (``CLIPS_PER_SONG`` clips per song)."""
    return [f"{s}_{i // CLIPS_PER_SONG + 1}_{i % CLIPS_PER_SONG + 1:02d}"
            for s, n in singers.items() for i in range(n)]


def synth_clip(name: str, seconds: float, seed: int) -> np.ndarray:
    """One stereo clip, float ``(samples, 2)`` (soundfile's layout): left = accompaniment,
    right = voice, peaks about -12 and -6 dBFS."""
    rng = seeding.rng(seed, "mir1k-fixture", name)
    t = np.arange(int(round(seconds * SR))) / SR
    root_hz = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    backing = sum(np.sin(2 * np.pi * root_hz * r * t) for r in (1.0, 1.26, 1.5, 2.0)) / 4
    backing = 0.25 * backing + 0.01 * rng.standard_normal(t.size)
    f0 = 2 * root_hz * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    envelope = 0.5 * (1 - np.cos(2 * np.pi * np.minimum(t / 0.5, 1.0) / 2))
    voice = 0.5 * envelope * (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase))
    return np.stack([backing, voice], axis=1)


def build_fixture(root: Path, seconds: float, seed: int) -> int:
    """The MIR-1K-layout fixture under ``root``; returns its number of clips."""
    import soundfile as sf

    wav = root / "Wavfile"
    wav.mkdir(parents=True, exist_ok=True)
    names = clip_names()
    for name in names:
        sf.write(wav / f"{name}.wav", synth_clip(name, seconds, seed), SR, subtype="PCM_16")
    return len(names)


def _config(root: Path) -> dict:
    """The repository's config.yaml (its seed, so the split is the pipeline's) with only
    this dataset (demo off), validated."""
    import yaml

    from vocalmix.config import validate_config

    cfg = yaml.safe_load((OUT.parent.parent / "config.yaml").read_text())
    cfg["datasets"] = [{"adapter": "mir1k", "root": str(root)}]
    cfg["commercial_mixes"] = []
    return validate_config(cfg)


def _audio_minutes(wav_dir: Path) -> float:
    import soundfile as sf

    return sum(sf.info(p).duration for p in wav_dir.iterdir() if p.suffix == ".wav") / 60.0


def _bytes_under(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(label: str, root: Path, workdir: Path, threads: int) -> dict:
    """Discovery and ingestion of one MIR-1K-layout root in a fresh process; one CSV row."""
    from vocalmix.corpus.manifest import read_manifest

    work = workdir / f"ingest-{label}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cfg = _config(root)
    (work / "config.json").write_text(json.dumps(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    popen = subprocess.Popen([sys.executable, "-c", CHILD, str(work / "config.json"),
                              str(work), str(threads)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    peak = peak_tree_rss_mib(popen)
    stdout, stderr = popen.communicate()
    if popen.returncode != 0:
        raise SystemExit(f"{label}: measuring process failed:\n{stderr[-3000:]}")
    r = json.loads(stdout.strip().splitlines()[-1])
    # the process and its ingestion workers together, as Snakemake's benchmark counts them
    r["ingest_peak_rss_mib"] = max(r["ingest_peak_rss_mib"], peak)
    rows = read_manifest(work / "tracks.tsv")
    with open(work / "rejected.tsv") as fh:
        rejected = max(0, sum(1 for _ in fh) - 1)
    wav_dir = root / "Wavfile" if (root / "Wavfile").is_dir() else root
    minutes = _audio_minutes(wav_dir)
    groups = r["group_splits"]
    by_split = {s: sorted(g for g, ss in groups.items() if s in ss)
                for s in ("train", "valid", "test")}
    clips = {s: sum(1 for row in rows if row["split"] == s) for s in ("train", "valid", "test")}
    print(f"{label}: {r['candidates']} clips of {len(groups)} singers, {minutes:.1f} min; "
          f"discover {r['discover_s']:.3f} s; ingest {r['ingest_wall_s']:.1f} s wall, "
          f"{r['ingest_cpu_s']:.1f} s CPU, peak {r['ingest_peak_rss_mib']:.0f} MiB; "
          f"{len(rows)} ingested, {rejected} rejected", flush=True)
    per_singer: dict[str, dict[str, int]] = {}
    for tid, g in r["group_of"].items():
        per_singer.setdefault(g, {}).setdefault(r["split_of"][tid], 0)
        per_singer[g][r["split_of"][tid]] += 1
    for split in ("test", "valid", "train"):
        line = ", ".join(f"{g} {n[split]}" for g, n in sorted(per_singer.items()) if split in n)
        print(f"  {split:5s} {clips[split]:4d} clips: {line}")
    return {
        "dataset": label, "clips": r["candidates"], "singers": len(groups),
        "audio_min": minutes, "discover_s": r["discover_s"],
        "discover_peak_rss_mib": r["discover_peak_rss_mib"],
        "ingest_wall_s": r["ingest_wall_s"], "ingest_cpu_s": r["ingest_cpu_s"],
        "ingest_peak_rss_mib": r["ingest_peak_rss_mib"],
        "ingest_s_per_audio_min": r["ingest_wall_s"] / minutes if minutes else None,
        "threads": threads, "sample_rate": cfg["sample_rate"], "ingested": len(rows),
        "rejected": rejected + r["discovery_rejections"],
        **{f"{s}_clips": clips[s] for s in clips},
        **{f"{s}_singers": len(by_split[s]) for s in by_split},
        "singers_in_two_splits": sum(1 for ss in groups.values() if len(ss) > 1),
        "test_singer_names": " ".join(by_split["test"]),
        "valid_singer_names": " ".join(by_split["valid"]),
        "written_mb": _bytes_under(work / "audio") / 1e6,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each fixture clip")
    ap.add_argument("--threads", type=int, default=1,
                    help="ingestion threads (the rule ingest has 4)")
    ap.add_argument("--real", type=Path, default=None,
                    help="also measure the real MIR-1K at this folder")
    ap.add_argument("--seed", type=int, default=20261204, help="seed of the fixture's audio")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/vocalmix-mir1k"))
    ap.add_argument("--keep", action="store_true", help="keep the fixture and the outputs")
    ap.add_argument("--out", type=Path, default=OUT / "mir1k_adapter.csv")
    args = ap.parse_args(argv)
    fixture = args.workdir / "fixture"
    shutil.rmtree(fixture, ignore_errors=True)
    t0 = time.perf_counter()
    n = build_fixture(fixture, args.seconds, args.seed)
    print(f"fixture: {n} clips of {args.seconds:g} s in {time.perf_counter() - t0:.1f} s "
          f"({_bytes_under(fixture) / 1e6:.0f} MB) at {fixture}", flush=True)
    rows = [measure(f"fixture_{args.seconds:g}s", fixture, args.workdir, args.threads)]
    if args.real is not None:
        rows.append(measure("mir1k_real", args.real, args.workdir, args.threads))
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_table(args.out, rows, COLUMNS, cell=fixed(3, nonfinite=None), delimiter=",")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
