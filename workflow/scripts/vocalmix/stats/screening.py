"""ITU-R BS.1534-3 post-screening of listeners (section 4.1.2).

Rule 1: a listener who grades the hidden reference below ``reference_below`` (90) on more
than ``max_fraction`` (15 %; config section ``analysis.screening``) of the test items that
contain a hidden reference is excluded. The fraction is over those items; with few items
one lapse is enough (1 of 6 items = 16.7 %).
Rule 2 (the mid-range anchor graded above 90) needs a 7 kHz anchor; this test has none, so
it is not applied, and the report says so.
"""

from __future__ import annotations

import pandas as pd

from vocalmix.conditions import REFERENCE
from vocalmix.config import schema_settings

__all__ = ["ScreeningSettings", "post_screening", "SCREENING_COLUMNS", "reference_rows"]

SCREENING_COLUMNS = ("listener", "listener_id", "reference_items", "reference_below",
                     "fraction_below", "min_reference_grade", "excluded", "reason")


@schema_settings("analysis.screening")
class ScreeningSettings:
    """BS.1534-3 post-screening of listeners (config section ``analysis.screening``;
    defaults from the schema): a hidden-reference grade below ``reference_below`` is a lapse,
    and lapses on more than ``max_fraction`` of the items exclude a listener."""

    reference_below: float
    max_fraction: float


def reference_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The hidden-reference grades: ``type == "reference"`` (else the reference condition)."""
    if "type" in df and (df["type"] == "reference").any():
        return df[df["type"] == "reference"]
    return df[df["condition"] == REFERENCE]


def post_screening(df: pd.DataFrame, settings: ScreeningSettings,
                   survey: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per listener: hidden-reference items, how many graded below
    ``settings.reference_below``, the fraction, and whether the listener is excluded
    (fraction > ``settings.max_fraction``).

    ``listener_id`` is the participant's answer to the survey question ``listener_id``:
    from ``survey`` (``survey.tsv``, one row per listener, joined on ``listener``) when
    given, else from a ``survey_listener_id`` column of the ratings (older tables); empty
    when neither has it.
    """
    threshold, max_fraction = settings.reference_below, settings.max_fraction
    ref = reference_rows(df)
    if survey is not None and {"listener", "survey_listener_id"} <= set(survey.columns):
        ids = (survey.astype({"listener": str}).groupby("listener")["survey_listener_id"]
               .first())
    elif "survey_listener_id" in df:
        ids = df.groupby("listener")["survey_listener_id"].first()
    else:
        ids = pd.Series(dtype=str)
    rows = []
    for listener in pd.unique(df["listener"]):
        r = ref[ref["listener"] == listener]
        per_item = r.groupby("item")["rating"].min()
        n = int(per_item.size)
        below = int((per_item < threshold).sum())
        frac = below / n if n else float("nan")
        excluded = bool(n and frac > max_fraction)
        rows.append({
            "listener": listener, "listener_id": ids.get(listener, ""),
            "reference_items": n, "reference_below": below, "fraction_below": frac,
            "min_reference_grade": float(per_item.min()) if n else float("nan"),
            "excluded": excluded,
            "reason": (f"hidden reference below {threshold:g} on {below} of {n} items "
                       f"({100 * frac:.1f} % > {100 * max_fraction:g} %)") if excluded else
                      ("no hidden reference rated: not screened" if not n else ""),
        })
    return pd.DataFrame(rows, columns=list(SCREENING_COLUMNS))
