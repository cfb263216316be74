"""The five mixes of the same material that the listening test compares (proposal V).

One definition, used by rendering, objective evaluation, the WAET export and the
statistics: the names are file names (``results/renders/{track}/{condition}.wav``),
column values and WAET element names, so they never change spelling.
"""

from __future__ import annotations

__all__ = ["CONDITIONS", "REFERENCE", "SYSTEMS", "LABELS"]

#: In presentation order for tables and plots (the reference first).
CONDITIONS: tuple[str, ...] = (
    "professional",
    "unprocessed",
    "commercial",
    "rule_based",
    "data_driven",
)

#: The hidden reference of the listening test and the reference of every metric.
REFERENCE = "professional"

#: The automatic systems under test.
SYSTEMS: tuple[str, ...] = ("rule_based", "data_driven")

#: Human-readable labels for plots.
LABELS: dict[str, str] = {
    "professional": "Professional",
    "unprocessed": "Unprocessed sum",
    "commercial": "Commercial / preset",
    "rule_based": "Rule-based",
    "data_driven": "Data-driven",
}
