"""Benchmark: one network per task, or one multi-task network?

Trains, on a built dataset (``results/dataset`` after ``snakemake results/dataset``), the
four task models as the pipeline does (each with its own inputs: the vocal only for EQ) and
one multi-task network on vocal and backing predicting every target (the tasks' losses
weighted equally), both with the training settings of ``config.yaml``. The held-out errors
of each target on the validation and test tracks, in target units, and the training time go
to ``benchmarks/results/models.csv``; the choice is made on the validation numbers.

    .venv/bin/python benchmarks/models.py [--dataset results/dataset] [--out /tmp/vocalmix-models]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import yaml

from vocalmix.config import validate_config
from vocalmix.models.nets import MULTITASK, TASKS
from vocalmix.models.train import TrainSettings, train_task

OUT = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent
HEADLINE = {"level": "track_mae_lu", "eq": "track_curve_rms_db", "compression": "track_mae_lu",
            "reverb": "t60_median_abs_error_pct"}
BASELINE = {"level": "baseline_track_mae_lu", "eq": "baseline_track_curve_rms_db",
            "compression": "baseline_track_mae_lu",
            "reverb": "baseline_t60_median_abs_error_pct"}
UNITS = {"level": "LU", "eq": "dB", "compression": "LU", "reverb": "%"}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(REPO / "results" / "dataset"))
    ap.add_argument("--out", default="/tmp/vocalmix-models-benchmark")
    ap.add_argument("--config", default=str(REPO / "config.yaml"))
    args = ap.parse_args(argv)
    with open(args.config) as fh:
        config = validate_config(yaml.safe_load(fh))
    settings = TrainSettings.from_mapping({
        **config["train"], "device": "cpu",
        "inputs": {**config["train"]["inputs"], MULTITASK: ["vocal", "backing"]}})
    rows = []
    runs = [(t, t) for t in TASKS] + [(MULTITASK, "multi-task")]
    for task, design in runs:
        t0 = time.perf_counter()
        m = train_task(args.dataset, Path(args.out) / task, task, seed=config["seed"],
                       settings=settings)
        seconds = time.perf_counter() - t0
        for t in TASKS if task == MULTITASK else [task]:
            row = {"design": "per-task" if task != MULTITASK else "multi-task", "task": t,
                   "metric": HEADLINE[t], "unit": UNITS[t], "epochs": m["epochs"],
                   "train_seconds": round(seconds, 1), "train_windows": m["train_windows"]}
            for split in ("valid", "test"):
                res = m.get(split) or {}
                res = res.get(t, {}) if task == MULTITASK else res
                row[split] = res.get(HEADLINE[t])
                row[f"{split}_train_mean_baseline"] = res.get(BASELINE[t])
            rows.append(row)
            print(f"{row['design']:10s} {t:12s} {HEADLINE[t]:26s} valid {row['valid']:.3f} "
                  f"test {row['test']:.3f} {UNITS[t]}  ({m['epochs']} epochs, {seconds:.0f} s)",
                  flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    cols = ["design", "task", "metric", "unit", "valid", "test", "valid_train_mean_baseline",
            "test_train_mean_baseline", "epochs", "train_windows", "train_seconds"]
    with open(OUT / "models.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: (f"{r[c]:.4f}" if isinstance(r.get(c), float) else r.get(c))
                        for c in cols})
    total = {d: sum(r["train_seconds"] for r in rows if r["design"] == d and
                    (d == "per-task" or r["task"] == "level")) for d in ("per-task", "multi-task")}
    print(f"training time: per-task {total['per-task']:.0f} s (four networks), multi-task "
          f"{total['multi-task']:.0f} s")


if __name__ == "__main__":
    main()
