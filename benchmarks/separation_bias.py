"""Benchmark: how source separation biases each training target (issue 24, item 2).

Each song with true stems is separated by the configured separator (``config.yaml``'s
``separation``: by default the pretrained Spleeter 2stems in PyTorch) through
:func:`vocalmix.separation.api.separate`, and every training target -- vocal-to-backing
ratio, vocal LRA, vocal tonal balance per octave band, blind DRR and T60 -- is measured on the
true pair and on the estimate (:func:`vocalmix.separation.bias.bias_row`, as the features
stage measures them):

(a) the three MUSDB18-HQ previews in ``../shared/data/real/musdb18hq_preview/test`` (real
    songs; the backing is drums + bass + other; the separator gets ``mixture.wav``, which is
    mastered: Falcon 69's is limited);
(b) the demo songs listed in ``results/corpus/tracks.tsv`` (dataset ``demo``, every split;
    the separator gets each song's mixture file). Their synthetic voices are not what the
    pretrained separator knows, so their biases are not those of real songs.

Writes ``benchmarks/results/separation_bias.csv`` (one row per song: true, estimated and
estimated-minus-true value of each target) and ``separation_bias_summary.csv`` (per dataset
and split, and per dataset over all splits: n, mean, sd and mean |bias| of each target,
:func:`vocalmix.separation.bias.summarise_bias`). The summary's ``correction`` column says
what was subtracted from the estimates first: ``none``; for the previews also
``demo_train_mean`` (each target's mean bias on the demo's training split, a constant
correction calibrated on the demo) and ``leave_one_song_out`` (each preview corrected by the
mean bias of the other two). These two are reported figures -- what such a correction would
do to mean |bias| -- not a tuned choice: the pipeline applies no correction.

    .venv/bin/python benchmarks/separation_bias.py [--threads 2] [--tracks results/corpus/tracks.tsv]
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from vocalmix.audio import read_audio, to_channels
from vocalmix.separation import bias
from vocalmix.separation.api import check_backend, separate
from vocalmix.separation.quality import backend_label
from vocalmix.separation.settings import SeparationSettings
from vocalmix.tables import fixed, write_table

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
PREVIEWS = REPO.parent / "shared" / "data" / "real" / "musdb18hq_preview" / "test"
PREVIEW_DATASET = "musdb18hq_preview"
TRACK_COLUMNS = ("dataset", "split", "track", "genre", "estimate", "duration_s",
                 "separation_s", *bias.ROW_COLUMNS)
SUMMARY_COLUMNS = ("dataset", "split", "correction", *bias.SUMMARY_COLUMNS, "offset")
#: the level targets reported on stdout (the rest are in the CSVs)
HEADLINE = ("vocal_to_backing_lu", "vocal_lra_lu", "vocal_drr_db", "vocal_t60_s", bias.EQ_RMS)


def preview_songs() -> list[dict]:
    """The MUSDB previews: name and the paths of the mixture and the stems."""
    return [{"dataset": PREVIEW_DATASET, "split": "test", "track": d.name, "genre": "",
             "mixture": d / "mixture.wav", "vocal": [d / "vocals.wav"],
             "backing": [d / f"{s}.wav" for s in ("drums", "bass", "other")]}
            for d in sorted(PREVIEWS.iterdir()) if (d / "mixture.wav").is_file()]


def demo_songs(tracks: Path) -> list[dict]:
    """The demo songs of the manifest ``tracks`` (every split)."""
    with open(tracks, newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["dataset"] == "demo"]
    return [{"dataset": "demo", "split": r["split"], "track": r["track_id"],
             "genre": r["genre"], "mixture": REPO / r["mixture"] if r["mixture"] else None,
             "vocal": [REPO / r["vocal"]], "backing": [REPO / r["backing"]]}
            for r in rows]


def _sum_of(paths: list[Path], rate: int) -> np.ndarray:
    total = None
    for p in paths:
        x, _ = read_audio(p, sample_rate=rate)
        total = x if total is None else total + to_channels(x, total.shape[0])
    return total


def measure(song: dict, settings: SeparationSettings, rate: int, threads: int) -> dict:
    """Separate one song's mixture and measure the targets on the truth and the estimate."""
    vocal = _sum_of(song["vocal"], rate)
    backing = to_channels(_sum_of(song["backing"], rate), vocal.shape[0])
    mixture = (vocal + backing if song["mixture"] is None
               else to_channels(read_audio(song["mixture"], sample_rate=rate)[0],
                                vocal.shape[0]))
    start = time.perf_counter()
    v_hat, b_hat, _ = separate(mixture, rate, settings, threads=threads)
    seconds = time.perf_counter() - start
    row = bias.bias_row((vocal, backing), (v_hat, b_hat), rate)
    return {k: song[k] for k in ("dataset", "split", "track", "genre")} | {
        "estimate": backend_label(settings), "duration_s": mixture.shape[1] / rate,
        "separation_s": seconds, **row}


def _corrected(rows: list[dict], offsets: list[dict[str, float]], label: str) -> list[dict]:
    """``rows`` with each target's estimate (and bias) lowered by the row's offset, the
    tonal-balance RMS recomputed from the corrected bands."""
    out = []
    for r, off in zip(rows, offsets):
        c = dict(r, correction=label)
        for t in bias.TARGETS:
            c[f"est_{t}"] = r[f"est_{t}"] - off[t]
            c[f"bias_{t}"] = r[f"bias_{t}"] - off[t]
        eq = np.array([c[f"bias_{t}"] for t in bias.EQ_TARGETS])
        c[bias.EQ_RMS] = float(np.sqrt(np.mean(eq ** 2)))
        out.append(c)
    return out


def _mean_bias(rows: list[dict]) -> dict[str, float]:
    out = {}
    for t in bias.TARGETS:
        v = np.array([r[f"bias_{t}"] for r in rows], dtype=float)
        v = v[np.isfinite(v)]
        out[t] = float(v.mean()) if v.size else math.nan
    return out


def corrections(rows: list[dict]) -> list[dict]:
    """Summary rows of the previews after a constant correction: the demo training split's
    mean bias, and leave-one-song-out over the previews."""
    previews = [r for r in rows if r["dataset"] == PREVIEW_DATASET]
    train = [r for r in rows if r["dataset"] == "demo" and r["split"] == "train"]
    out = []
    if train and previews:
        demo_offset = _mean_bias(train)
        fixed_rows = _corrected(previews, [demo_offset] * len(previews), "demo_train_mean")
        summary = bias.summarise_bias(fixed_rows, ("dataset", "split", "correction"))
        for s in summary:
            s["offset"] = demo_offset.get(s["target"], math.nan)
        out += summary
    if len(previews) > 1:
        loso = [_mean_bias(previews[:k] + previews[k + 1:]) for k in range(len(previews))]
        out += bias.summarise_bias(_corrected(previews, loso, "leave_one_song_out"),
                                   ("dataset", "split", "correction"))
    return out


def summaries(rows: list[dict]) -> list[dict]:
    """Per dataset and split, per dataset over every split (``all``), then the corrections."""
    plain = [dict(r, correction="none") for r in rows]
    out = bias.summarise_bias(plain, ("dataset", "split", "correction"))
    multi = {r["dataset"] for r in rows if len({x["split"] for x in rows
                                                if x["dataset"] == r["dataset"]}) > 1}
    out += bias.summarise_bias([dict(r, split="all") for r in plain if r["dataset"] in multi],
                               ("dataset", "split", "correction"))
    return out + corrections(rows)


def _print_summary(summary: list[dict]) -> None:
    print(f"\n{'dataset':18} {'split':6} {'correction':19} {'target':27} {'n':>3} "
          f"{'mean':>8} {'sd':>7} {'mean|b|':>8}")
    for s in summary:
        if s["target"] in HEADLINE:
            print(f"{s['dataset']:18} {s['split']:6} {s['correction']:19} {s['target']:27} "
                  f"{s['n_tracks']:3d} {s['mean_bias']:8.2f} {s['sd_bias']:7.2f} "
                  f"{s['mean_abs_bias']:8.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=Path, default=REPO / "results" / "corpus" / "tracks.tsv",
                    help="the manifest listing the demo songs")
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml",
                    help="its separation section picks the separator")
    ap.add_argument("--threads", type=int, default=2, help="separation threads")
    ap.add_argument("--limit", type=int, default=0, help="at most this many demo songs (0: all)")
    args = ap.parse_args(argv)
    cfg = yaml.safe_load(args.config.read_text())
    settings = SeparationSettings.from_mapping(cfg["separation"])
    check_backend(settings)
    rate = int(cfg["sample_rate"])
    if not PREVIEWS.is_dir():
        print(f"{PREVIEWS} is absent: nothing to benchmark")
        return 1
    if not args.tracks.is_file():
        print(f"{args.tracks} is absent: build the demo corpus first (snakemake "
              "results/corpus/tracks.tsv)")
        return 1
    demo = demo_songs(args.tracks)
    songs = preview_songs() + (demo[: args.limit] if args.limit else demo)
    print(f"{len(songs)} songs, separator {backend_label(settings)}")
    rows = []
    for k, song in enumerate(songs, start=1):
        row = measure(song, settings, rate, args.threads)
        rows.append(row)
        print(f"[{k}/{len(songs)}] {song['dataset']}/{song['split']} {song['track']}: "
              f"VBR bias {row['bias_vocal_to_backing_lu']:+.2f} LU, LRA "
              f"{row['bias_vocal_lra_lu']:+.2f} LU, EQ {row[bias.EQ_RMS]:.2f} dB RMS "
              f"({row['separation_s']:.1f} s)", flush=True)
    summary = summaries(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    cell = fixed(4)
    write_table(OUT / "separation_bias.csv", rows, TRACK_COLUMNS, cell=cell, delimiter=",")
    write_table(OUT / "separation_bias_summary.csv", summary, SUMMARY_COLUMNS, cell=cell,
                delimiter=",")
    _print_summary(summary)
    print(f"wrote {OUT / 'separation_bias.csv'} and {OUT / 'separation_bias_summary.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
