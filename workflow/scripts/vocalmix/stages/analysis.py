"""Rule ``analyse_ratings``: the statistics of the listening test."""

from __future__ import annotations

from typing import Any, Mapping

from vocalmix.stats.analysis import AnalysisSettings, analyse

__all__ = ["analyse_ratings"]


def analyse_ratings(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                    params: Mapping[str, Any], threads: int = 1) -> dict:
    """Snakemake entry: ``inputs.ratings`` (+ ``inputs.import_summary``, and
    ``inputs.survey`` for screening.tsv's listener ids) -> the tables."""
    return analyse(inputs["ratings"], outputs,
                   settings=AnalysisSettings.from_mapping(params["analysis"]),
                   import_summary=inputs.get("import_summary"),
                   survey_tsv=inputs.get("survey"))
