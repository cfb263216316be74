"""Rule ``import_ratings``: WAET result files -> ``ratings.tsv``."""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from vocalmix.files import atomic_path
from vocalmix.listening.results import import_sessions, write_ratings, write_survey

__all__ = ["import_ratings"]


def import_ratings(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                   params: Mapping[str, Any], threads: int = 1) -> dict:
    """Snakemake entry: ``inputs.results`` (files) + ``inputs.key`` -> ratings, summary."""
    from vocalmix.listening.export import read_key

    results = inputs["results"]
    files = [results] if isinstance(results, (str, os.PathLike)) else list(results)
    key = read_key(inputs["key"]) if inputs.get("key") else None
    imported = import_sessions(files, key)
    rows, summary = imported.rows, imported.summary
    summary["source"] = params.get("source", "real")
    if summary["source"] == "simulated" and not summary["simulated"]:
        raise ValueError("the simulated panel's files lack the simulation marker")
    summary["results_dir"] = params.get("results_dir", "")
    summary["real_files_not_used"] = params.get("real_files_not_used", [])
    if not rows:
        raise ValueError(f"no complete WAET result with ratings among {len(files)} files "
                         f"(skipped: {summary['skipped']})")
    write_ratings(outputs["ratings"], rows, simulated=summary["simulated"],
                  n_files=summary["complete"])
    if outputs.get("survey"):
        write_survey(outputs["survey"], imported.surveys)
    with atomic_path(outputs["summary"]) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary
