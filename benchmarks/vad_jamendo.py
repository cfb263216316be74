"""Benchmark: the project's vocal-activity detection against real lyric-line timings.

Issue 24, item 2. Material: the 10 finished songs of ``../shared/data/real/jamendo``
(``metadata.csv``, ``mp3/<Filepath>``, ``lines/<stem>.csv`` with ``start_time,end_time``:
when the voice sings a line). Test material only: nothing here is tuned on it, and no
audio from it is written.

For each song listed in ``metadata.csv``:

* the mp3 is read (44.1 kHz stereo) and separated by the configured backend of
  ``config.yaml`` (``separation``; the pretrained Spleeter 2-stem by default);
* the reference: the lyric lines (:func:`vocalmix.evaluation.activity.read_intervals`,
  overlaps merged) as frame labels on a 100 ms grid;
* the detector (:func:`vocalmix.evaluation.activity.detector_labels`: BS.1770 400 ms
  blocks within ``features.gate_lu`` of the integrated loudness, the config's default
  -20 LU, block labels put on the grid at the block centres) on three inputs: ``vocal``,
  the separated vocal (what the pipeline uses); ``mixture``, the song itself (context: how
  much separation adds); ``all_active``, every frame active (the trivial baseline: its
  precision is the reference's active fraction, its recall 1).

Every detector is scored with two fixed collars (:func:`vocalmix.evaluation.activity.
frame_scores`), chosen before any result was seen: ``_c0``, plain frame scores;
``_c05``, frames within 0.5 s of a line's start or end left out (forgives the 400 ms
blocks' smearing and loose line timings). Columns: ``song, genre, language, duration_s,
ref_active_fraction``, the active fraction each detector gives (``vocal_active_fraction``,
``mixture_active_fraction``), ``{vocal,mixture,all_active}_{precision,recall,f1}_{c0,c05}``
and ``separate_s`` (the separation's wall time); the last row (``song`` = ``mean``) is the
mean over songs. Lyric lines are what the voice sings with words: non-lexical singing,
backing vocals and ad-libs outside the lines count as false activity here.

Writes ``benchmarks/results/vad_jamendo.csv`` and ``benchmarks/results/vad_jamendo.png``
(per-song F1 bars at both collars, and a timeline of the first song).

    .venv/bin/python benchmarks/vad_jamendo.py [--threads 2] [--labels DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from vocalmix.audio import read_audio
from vocalmix.evaluation import activity
from vocalmix.separation.api import separate
from vocalmix.separation.settings import SeparationSettings
from vocalmix.tables import fixed, write_table

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
JAMENDO = REPO.parent / "shared" / "data" / "real" / "jamendo"
RATE = 44100
HOP_S = activity.DEFAULT_HOP_S
#: the two reporting collars (s), fixed in advance; column suffixes
COLLARS = {"c0": 0.0, "c05": 0.5}
DETECTORS = ("vocal", "mixture", "all_active")
METRICS = ("precision", "recall", "f1")
COLUMNS = ("song", "genre", "language", "duration_s", "ref_active_fraction",
           "vocal_active_fraction", "mixture_active_fraction",
           *(f"{d}_{m}_{c}" for c in COLLARS for d in DETECTORS for m in METRICS),
           "separate_s")
MAX_METADATA_BYTES = 1 << 20


def read_metadata(root: Path) -> list[dict]:
    """The rows of ``root/metadata.csv`` (``Filepath``, ``Genre``, ``Language``, ...)."""
    path = root / "metadata.csv"
    if path.stat().st_size > MAX_METADATA_BYTES:
        raise SystemExit(f"{path}: larger than {MAX_METADATA_BYTES} bytes")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows, start=2):
        name = row.get("Filepath") or ""
        if not name or Path(name).name != name:
            raise SystemExit(f"{path}: line {i}: Filepath {name!r} is not a file name")
    return rows


def score_song(root: Path, row: dict, settings: SeparationSettings, gate_lu: float,
               threads: int) -> tuple[dict, dict]:
    """One song's row of the table, and its frame labels (for the timeline)."""
    mp3 = root / "mp3" / row["Filepath"]
    lines = root / "lines" / (Path(row["Filepath"]).stem + ".csv")
    intervals = activity.read_intervals(lines)
    mix, sr = read_audio(mp3, sample_rate=RATE)
    n = activity.frame_count(mix.shape[1] / sr, HOP_S)
    start = time.perf_counter()
    vocal, _, _ = separate(mix, sr, settings, threads=threads)
    seconds = time.perf_counter() - start
    labels = {
        "reference": activity.reference_labels(intervals, n, HOP_S),
        "vocal": activity.detector_labels(vocal, sr, gate_lu=gate_lu, hop_s=HOP_S,
                                          n_frames=n, name=f"{mp3.name} (vocal)"),
        "mixture": activity.detector_labels(mix, sr, gate_lu=gate_lu, hop_s=HOP_S,
                                            n_frames=n, name=str(mp3)),
        "all_active": np.ones(n, dtype=bool),
    }
    out = {"song": Path(row["Filepath"]).stem, "genre": row.get("Genre", ""),
           "language": row.get("Language", ""), "duration_s": mix.shape[1] / sr,
           "ref_active_fraction": float(labels["reference"].mean()),
           "vocal_active_fraction": float(labels["vocal"].mean()),
           "mixture_active_fraction": float(labels["mixture"].mean()), "separate_s": seconds}
    for suffix, collar in COLLARS.items():
        for det in DETECTORS:
            s = activity.frame_scores(labels["reference"], labels[det], collar_s=collar,
                                      hop_s=HOP_S)
            out.update({f"{det}_{m}_{suffix}": getattr(s, m) for m in METRICS})
    return out, labels


def mean_row(rows: list[dict]) -> dict:
    """The mean of every numeric column over ``rows`` (NaN where a song has none)."""
    out = {"song": "mean", "genre": "", "language": ""}
    for c in COLUMNS:
        if c not in out:
            out[c] = float(np.nanmean([r[c] for r in rows]))
    return out


def plot(rows: list[dict], timeline: tuple[str, dict], path: Path) -> None:
    """Per-song F1 bars (collar 0 and 0.5 s) and one song's timeline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vocalmix.files import save_figure

    fig, axes = plt.subplots(3, 1, figsize=(11, 10),
                             gridspec_kw={"height_ratios": [3, 3, 2]})
    names = [r["song"][:28] for r in rows]
    x = np.arange(len(rows))
    width = 0.27
    colours = {"vocal": "tab:blue", "mixture": "tab:orange", "all_active": "tab:gray"}
    for ax, (suffix, collar) in zip(axes[:2], COLLARS.items()):
        for k, det in enumerate(DETECTORS):
            ax.bar(x + (k - 1) * width, [r[f"{det}_f1_{suffix}"] for r in rows], width,
                   label=det.replace("_", "-"), color=colours[det])
        ax.set_xticks(x, names, rotation=20, ha="right", fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_ylabel("frame F1")
        ax.set_title(f"Vocal activity vs lyric lines, collar {collar:g} s "
                     "(features.gate_lu default, 100 ms grid)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, ncol=3, loc="lower right")
    song, labels = timeline
    ax = axes[2]
    for k, key in enumerate(("reference", "vocal", "mixture")):
        lab = labels[key]
        on = np.flatnonzero(np.diff(np.concatenate([[0], lab.astype(int), [0]])))
        spans = [(a * HOP_S, (b - a) * HOP_S) for a, b in zip(on[::2], on[1::2])]
        ax.broken_barh(spans, (2 - k - 0.35, 0.7),
                       color={"reference": "k", **colours}.get(key))
    ax.set_yticks([2, 1, 0], ["lyric lines", "separated vocal", "mixture"], fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_xlim(0, labels["reference"].size * HOP_S)
    ax.set_title(f"Timeline: {song}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="separation threads")
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml")
    ap.add_argument("--labels", type=Path, default=None,
                    help="also write each song's frame labels (.npz) to this folder")
    args = ap.parse_args()
    if not (JAMENDO / "metadata.csv").is_file():
        print(f"{JAMENDO} is absent: nothing to benchmark")
        return 1
    with open(args.config, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    settings = SeparationSettings.from_mapping(config["separation"])
    gate_lu = float(config["features"]["gate_lu"])
    songs = read_metadata(JAMENDO)
    print(f"{len(songs)} songs; backend {settings.backend}, gate {gate_lu:g} LU, "
          f"hop {HOP_S:g} s, collars {', '.join(f'{c:g}' for c in COLLARS.values())} s")
    rows, timeline, start = [], None, time.perf_counter()
    for i, meta in enumerate(songs, start=1):
        t0 = time.perf_counter()
        row, labels = score_song(JAMENDO, meta, settings, gate_lu, args.threads)
        rows.append(row)
        timeline = timeline or (row["song"], labels)
        if args.labels:
            args.labels.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(args.labels / f"{row['song']}.npz", **labels)
        print(f"[{i}/{len(songs)}] {row['song']} ({row['duration_s']:.0f} s, "
              f"{time.perf_counter() - t0:.1f} s): lines {row['ref_active_fraction']:.2f} "
              f"active; F1 vocal {row['vocal_f1_c0']:.3f}/{row['vocal_f1_c05']:.3f}, "
              f"mixture {row['mixture_f1_c0']:.3f}/{row['mixture_f1_c05']:.3f}, "
              f"all-active {row['all_active_f1_c0']:.3f}/{row['all_active_f1_c05']:.3f} "
              "(collar 0/0.5 s)", flush=True)
    mean = mean_row(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    table = OUT / "vad_jamendo.csv"
    write_table(table, [*rows, mean], COLUMNS, cell=fixed(3, nonfinite=None), delimiter=",")
    plot(rows, timeline, OUT / "vad_jamendo.png")
    print("mean F1 (collar 0 / 0.5 s): " + ", ".join(
        f"{d} {mean[f'{d}_f1_c0']:.3f} / {mean[f'{d}_f1_c05']:.3f}" for d in DETECTORS))
    print(f"{time.perf_counter() - start:.0f} s in all; wrote {table} and "
          f"{OUT / 'vad_jamendo.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
