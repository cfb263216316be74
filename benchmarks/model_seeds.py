"""How much a task model's held-out error depends on its training seed (issue 21).

The data-driven mixer's models learn from the demo's few training songs (30 in the default
config), and every run trains each of them once, from one seed: the demo test split's
verdict "data_driven beats rule_based" is then one draw. This benchmark trains a task model
again on a finished run's dataset (``results/dataset``; the run's ``train`` settings) from
``--seeds`` seeds, the config's own first, each as the pipeline would
(:func:`vocalmix.models.train.train_task`: initialisation, batch order and augmentation
derive from the seed; the splits do not), and reports each seed's held-out metrics on the
validation and test splits, the mean of the seeds' predictions (an ensemble) on the
validation split, and the spread.

Writes ``benchmarks/results/model_seeds_<task>.csv`` (one row per seed, then the ensembles of
the first k seeds on the validation split) and ``..._summary.csv`` (min, median, max over the
seeds). The trained models go to a temporary folder and are not kept.

    .venv/bin/python benchmarks/model_seeds.py --results results [--task level] [--seeds 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from real_common import add_arguments, load_config, write_tables

from vocalmix.models.train import TrainSettings, train_task

#: The held-out metric reported per task (keys of ``metrics.json``'s ``valid``/``test``).
METRIC = {"level": "track_mae_lu", "compression": "track_mae_lu",
          "eq": "track_curve_rms_db", "reverb": "t60_median_abs_error_pct"}


def _train(dataset: str, out: str, task: str, seed: int, train: dict) -> dict:
    """One training, in a worker process (the settings travel as the config's mapping)."""
    return train_task(dataset, out, task, seed=seed, settings=TrainSettings.from_mapping(train))


def _valid_predictions(model_dir: Path, dataset: str, task: str) -> tuple:
    """The model's predictions on the validation split, its targets and index (the
    training's own split and channels)."""
    from vocalmix.models.dataset import ShardedDataset
    from vocalmix.models.nets import Predictor, task_targets, targets_index
    from vocalmix.models.train import EVAL_BATCH, _rows, _Split

    pred = Predictor.load(model_dir / "model.pt")
    ds = ShardedDataset(dataset, "valid")
    available = list(ds.description["input"]["channels"])
    chans = [available.index(c) for c in pred.meta["input_channels"]]
    versions = None if "vocal" in pred.meta["input_channels"] else {0}
    split = _Split(ds, targets_index(task_targets(task)), _rows(ds, versions), chans)
    return pred.predict_inputs(split.inputs(), EVAL_BATCH), split, pred


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(ap, "model_seeds.csv")
    ap.add_argument("--task", default="level", choices=sorted(METRIC))
    ap.add_argument("--seeds", type=int, default=6, help="how many seeds (the config's first)")
    ap.add_argument("--jobs", type=int, default=2, help="trainings side by side")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    base_seed = int(cfg.get("seed", 0))
    train = dict(cfg.get("train") or {})
    dataset = str(Path(args.results) / "dataset")
    if not (Path(dataset) / "dataset.json").exists():
        print(f"{dataset}: no dataset (run the pipeline first)", file=sys.stderr)
        return 2
    seeds = [base_seed] + [base_seed + k for k in range(1, args.seeds)]
    metric = METRIC[args.task]
    out = Path(args.out)
    if out.name == "model_seeds.csv":
        out = out.with_name(f"model_seeds_{args.task}.csv")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [Path(tmp) / str(s) for s in seeds]
        with ProcessPoolExecutor(max(1, args.jobs)) as pool:
            results = list(pool.map(_train, [dataset] * len(seeds), map(str, dirs),
                                    [args.task] * len(seeds), seeds,
                                    [train] * len(seeds)))
        for seed, m in zip(seeds, results):
            rows.append({"task": args.task, "what": "seed", "seed": seed, "k": 1,
                         "epochs": m["epochs"], "metric": metric,
                         "valid": m["valid"][metric], "test": m["test"][metric],
                         "valid_baseline": m["valid"].get(f"baseline_{metric}"),
                         "test_baseline": m["test"].get(f"baseline_{metric}")})
        # ensembles of the first k seeds, on the validation split only
        from vocalmix.models.train import evaluate_windows

        preds = []
        for d in dirs:
            p, split, pred = _valid_predictions(d, dataset, args.task)
            preds.append(p)
        for k in range(2, len(seeds) + 1):
            scored = evaluate_windows(args.task, np.mean(preds[:k], axis=0), split.y,
                                      split.index, pred.y_mean, pred.meta["eq_bands_hz"])
            rows.append({"task": args.task, "what": "ensemble", "seed": "", "k": k,
                         "epochs": "", "metric": metric, "valid": scored[metric], "test": "",
                         "valid_baseline": "", "test_baseline": ""})
    singles = [r for r in rows if r["what"] == "seed"]
    summary = []
    for split in ("valid", "test"):
        v = [float(r[split]) for r in singles]
        summary.append({"task": args.task, "metric": metric, "split": split,
                        "seeds": len(v), "min": min(v), "median": statistics.median(v),
                        "max": max(v), "config_seed": v[0]})
    write_tables(out, rows, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
