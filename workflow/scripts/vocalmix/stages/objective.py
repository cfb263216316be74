"""Rules ``evaluate_track`` and ``evaluate``: the objective evaluation."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Mapping

from vocalmix.evaluation import objective
from vocalmix.evaluation.objective import (COMPARISON_COLUMNS, METRICS, TABLE_METRICS,
                                           comparisons_html, objective_table,
                                           objective_table_html, paired_comparisons,
                                           plot_metrics, summarise)

log = logging.getLogger(__name__)

__all__ = ["evaluate_track", "evaluate"]

#: Text columns of the per-track tables; every other column is a number.
TEXT_COLUMNS = ("track", "dataset", "condition", "source", "genre")
SUMMARY_COLUMNS = ["dataset", "condition", "metric", "unit", "mean", "median", "ci95_low",
                   "ci95_high", "n"]


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
                                    seed=int(params["seed"]), reverb=params["reverb"],
                                    dataset=str(params["dataset"]))
    write_tsv(outputs["table"], rows)
    for r in rows:
        log.info("%s (%s) %-12s %s", r["track"], r["dataset"], r["condition"],
                 ", ".join(f"{m} {r[m]:.3f}" for m, _, _ in METRICS))


def _read_track_table(path: str) -> list[dict] | None:
    """The rows of one per-track table, numbers as floats; None (logged) where it cannot be
    read or predates the ``dataset`` column."""
    import csv

    try:
        with open(path, newline="") as fh:
            part = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        log.error("%s: unreadable (%s); its track is left out", path, exc)
        return None
    if part and "dataset" not in part[0]:
        log.error("%s: no dataset column (written by an older evaluate_track; rerun it); "
                  "its track is left out", path)
        return None
    for r in part:
        for k, v in r.items():
            if k not in TEXT_COLUMNS:
                r[k] = float(v) if v not in ("", None) else math.nan
    return part


def evaluate(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
             params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``evaluate``: per-track table, summary, objective table (TSV and HTML), paired
    comparisons of the conditions (TSV and HTML; ``params["alpha"]``, default 0.05) and plot
    of every evaluated track, per dataset; a track whose table is missing or unreadable is
    reported and skipped."""
    from vocalmix.files import atomic_path
    from vocalmix.tables import write_tsv

    rows: list[dict] = []
    for path in sorted(inputs["tables"]):
        part = _read_track_table(path)
        if part is not None:
            rows.extend(part)
    if not rows:
        raise ValueError("no track was evaluated (see the logs of evaluate_track)")
    write_tsv(outputs["per_track"], rows)
    summary = summarise(rows)
    write_tsv(outputs["summary"], summary, columns=SUMMARY_COLUMNS)
    table = objective_table(rows)
    write_tsv(outputs["table"], table,
              columns=["dataset", "condition", "n_tracks", *TABLE_METRICS])
    page = objective_table_html(table, summary,
                                title="Objective comparison with the professional mix, "
                                      "per dataset")
    with atomic_path(outputs["table_html"]) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    comparisons = paired_comparisons(rows, alpha=float(params.get("alpha", 0.05)))
    write_tsv(outputs["comparisons"], comparisons, columns=list(COMPARISON_COLUMNS))
    page = comparisons_html(comparisons, title="Paired comparisons of the conditions' errors, "
                                               "song by song, per dataset")
    with atomic_path(outputs["comparisons_html"]) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    plot_metrics(rows, outputs["plot"])
    for s in summary:
        if s["mean"] is not None:
            log.info("%-10s %-13s %-18s mean %8.3f  median %8.3f  [%8.3f, %8.3f]  n=%d",
                     s["dataset"], s["condition"], s["metric"], s["mean"], s["median"],
                     s["ci95_low"], s["ci95_high"], s["n"])
