"""The level model on held-out real songs: demo-only training against training with the
separated real songs, and the two window weightings (issue 24, item 4).

Cross-validation over the real training songs of a finished run's dataset (the separated
finished songs of ``benchmarks/configs/real_songs.yaml``): the real songs are dealt into
``--folds`` seeded folds; for each fold the level model (:func:`vocalmix.models.train.
train_task`, the run's ``train`` settings) is trained without it and scored on it
(track-level mean absolute error of the predicted vocal-to-backing ratio against the
separated song's own, LU; :func:`~vocalmix.models.train.evaluate_windows`). Variants:

* ``demo_only``: every real song left out (one model, scored on all of them at once; what a
  run without real songs learns);
* ``with_real_window``: the other folds' real songs in training, each window weighing its
  track's weight (``train.window_weighting: window``);
* ``with_real_song``: the same, each song weighing its weight whatever its length
  (``window_weighting: song``).

``--level-inputs vocal,backing`` trains the level model on both signals instead of the
config's. The previews (test split) are not touched: this chooses on training songs only. Writes one
row per variant and fold, and a summary (track-weighted mean over the folds).

    .venv/bin/python benchmarks/level_model_real.py --results results [--folds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from real_common import add_arguments, load_config, write_tables

from vocalmix.corpus.adapters import synthetic_datasets
from vocalmix.corpus.manifest import read_manifest
from vocalmix.models.train import TrainSettings, train_task
from vocalmix.seeding import derive_seed


def folds_of(tracks: list[str], k: int, seed: int) -> list[list[str]]:
    order = sorted(tracks, key=lambda t: derive_seed(seed, "level-cv", t))
    return [sorted(order[i::k]) for i in range(k)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(ap, "level_model_real.csv")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--weightings", default="window,song",
                    help="train.window_weighting values to compare (comma-separated)")
    ap.add_argument("--level-inputs", default=None,
                    help="the level model's inputs instead of the config's, e.g. vocal,backing")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    seed = int(cfg.get("seed", 0))
    base = TrainSettings.from_mapping(cfg.get("train") or {})
    if args.level_inputs:
        base = replace(base, inputs={**base.inputs,
                                     "level": tuple(args.level_inputs.split(","))})
    results = Path(args.results)
    synthetic = set(synthetic_datasets(cfg))
    rows = read_manifest(results / "corpus" / "tracks.tsv")
    real = sorted(r["track_id"] for r in rows
                  if r["split"] == "train" and r["dataset"] not in synthetic)
    if len(real) < args.folds:
        print(f"{len(real)} real training song(s): fewer than {args.folds} folds", file=sys.stderr)
        return 1
    folds = folds_of(real, args.folds, seed)
    out_rows = []
    with tempfile.TemporaryDirectory(prefix="level-cv.") as tmp:
        def run(name: str, settings: TrainSettings, holdout: list[str]) -> dict:
            m = train_task(results / "dataset", Path(tmp) / name, "level", seed=seed,
                           settings=settings, holdout_tracks=holdout)
            return m["holdout"]

        demo = run("demo_only", base, real)  # one model, scored on all real songs at once
        out_rows.append({"variant": "demo_only", "fold": "all", "n_tracks": len(real),
                         "tracks": " ".join(real),
                         "track_mae_lu": round(demo["track_mae_lu"], 4),
                         "window_mae_lu": round(demo["window_mae_lu"], 4),
                         "baseline_track_mae_lu": round(demo["baseline_track_mae_lu"], 4)})
        print(out_rows[-1], flush=True)
        for weighting in args.weightings.split(","):
            settings = replace(base, window_weighting=weighting)
            for k, fold in enumerate(folds):
                h = run(f"{weighting}_{k}", settings, fold)
                out_rows.append({"variant": f"with_real_{weighting}", "fold": k,
                                 "n_tracks": len(fold), "tracks": " ".join(fold),
                                 "track_mae_lu": round(h["track_mae_lu"], 4),
                                 "window_mae_lu": round(h["window_mae_lu"], 4),
                                 "baseline_track_mae_lu": round(h["baseline_track_mae_lu"], 4)})
                print(out_rows[-1], flush=True)
    summary = []
    for variant in dict.fromkeys(r["variant"] for r in out_rows):
        sel = [r for r in out_rows if r["variant"] == variant]
        n = sum(r["n_tracks"] for r in sel)
        summary.append({"variant": variant, "n_tracks": n, **{
            k: round(sum(r[k] * r["n_tracks"] for r in sel) / n, 4)
            for k in ("track_mae_lu", "window_mae_lu", "baseline_track_mae_lu")}})
    write_tables(args.out, out_rows, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
