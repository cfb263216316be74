"""Rules ``evaluate_track`` and ``evaluate``: the objective evaluation."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Mapping

from vocalmix.evaluation import objective
from vocalmix.evaluation.objective import METRICS, plot_metrics, summarise

log = logging.getLogger(__name__)

__all__ = ["evaluate_track", "evaluate"]


def evaluate_track(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                   params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``evaluate_track``: the metrics of one track's conditions."""
    from vocalmix.tables import write_tsv

    renders: dict[str, dict] = {}
    for path in inputs["json"]:
        c = Path(path).stem
        base = Path(path).with_suffix("")
        renders[c] = {"json": path, "audio": f"{base}.wav", "vocal": f"{base}.vocal.flac",
                      "backing": f"{base}.backing.flac"}
    rows = objective.evaluate_track(params["track"], renders, int(params["sample_rate"]),
                          seed=int(params["seed"]), reverb=params["reverb"])
    write_tsv(outputs["table"], rows)
    for r in rows:
        log.info("%s %-12s balance %.2f LU, LRA %.2f LU, mel %.2f dB, centroid %.0f Hz, "
                 "MR-STFT %.3f, T60 %.1f%%", r["track"], r["condition"],
                 *(r[m] for m, _, _ in METRICS))


def evaluate(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
             params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``evaluate``: per-track table, summary and plot of every evaluated track; a
    track whose table is missing or unreadable is reported and skipped."""
    import csv

    from vocalmix.tables import write_tsv

    rows: list[dict] = []
    for path in sorted(inputs["tables"]):
        try:
            with open(path, newline="") as fh:
                part = list(csv.DictReader(fh, delimiter="\t"))
        except OSError as exc:
            log.error("%s: unreadable (%s); its track is left out", path, exc)
            continue
        for r in part:
            for k, v in r.items():
                if k not in ("track", "condition", "source", "genre"):
                    r[k] = float(v) if v not in ("", None) else math.nan
        rows.extend(part)
    if not rows:
        raise ValueError("no track was evaluated (see the logs of evaluate_track)")
    write_tsv(outputs["per_track"], rows)
    summary = summarise(rows)
    write_tsv(outputs["summary"], summary,
              columns=["condition", "metric", "unit", "mean", "median", "ci95_low",
                       "ci95_high", "n"])
    plot_metrics(rows, outputs["plot"])
    for s in summary:
        if s["mean"] is not None:
            log.info("%-13s %-18s mean %8.3f  median %8.3f  [%8.3f, %8.3f]  n=%d",
                     s["condition"], s["metric"], s["mean"], s["median"],
                     s["ci95_low"], s["ci95_high"], s["n"])
