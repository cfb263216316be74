"""Rule ``summarise_features``: summary, genre statistics and truth check."""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np

from vocalmix.features.summary import (
    MIN_REAL_SONGS,
    OVERALL,
    genre_stats,
    plot_distributions,
    read_genre_stats,
    summary_rows,
    truth_rows,
)
from vocalmix.files import read_json
from vocalmix.separation.bias import read_corrections
from vocalmix.tables import write_tsv

log = logging.getLogger(__name__)

__all__ = ["summarise_features"]


def _priors(path) -> dict[str, dict]:
    """The packaged table's rows of published priors (``row_source`` ``prior``)."""
    if not path:
        return {}
    return {g: r for g, r in read_genre_stats(str(path)).items()
            if r.get("row_source") == "prior" and g != OVERALL}


def summarise_features(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                       params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: summary, genre statistics, truth check and plot from all features."""
    features = [read_json(p) for p in inputs["features"]]
    truths = {}
    for path in inputs.get("truth") or []:
        t = read_json(path)
        truths[t["song_id"]] = t
    rows = summary_rows(features)
    write_tsv(outputs["summary"], rows)
    correction = inputs.get("correction") or []
    correction = [correction] if isinstance(correction, str) else list(correction)
    corr = read_corrections(correction[0]) if correction else {}
    if corr:
        log.info("separated songs corrected for the separator's bias: %s",
                 ", ".join(f"{k} {v:+.2f}" for k, v in corr.items()))
    stats = genre_stats(features, synthetic_datasets=params.get("synthetic_datasets", ()),
                        min_real_songs=int(params.get("min_real_songs", MIN_REAL_SONGS)),
                        separation_bias=corr,
                        priors=_priors(inputs.get("priors")))
    if not stats:
        raise ValueError("no training track with a processed vocal: genre_stats.tsv needs at "
                         "least one (check the datasets' splits and sources)")
    write_tsv(outputs["genre_stats"], stats)
    stems = {t: (v, b) for t, v, b in zip(params.get("truth_tracks", []),
                                          inputs.get("truth_vocal") or [],
                                          inputs.get("truth_backing") or [])}
    checks = truth_rows(features, truths, stems)
    cols = ["track_id", "split", "genre", "truth_vocal_to_backing_lu",
            "measured_vocal_to_backing_lu", "error_vocal_to_backing_lu",
            "pyloudnorm_vocal_to_backing_lu", "pyloudnorm_error_lu", "truth_vocal_lra_lu",
            "measured_vocal_lra_lu", "error_vocal_lra_lu", "truth_t60_mid_s", "fitted_t60_mid_s",
            "error_t60_mid_pct", "blind_t60_mid_s", "blind_error_t60_mid_pct"]
    write_tsv(outputs["truth_check"], checks, cols)
    plot_distributions(rows, outputs["plot"],
                       synthetic_datasets=params.get("synthetic_datasets", ()), stats=stats)
    for s in stats:
        log.info("genre %-18s n=%2d  vocal-to-backing %+.2f LU  vocal LRA %s LU", s["genre"],
                 s["n_tracks"], s["vocal_to_backing_lu"], s["vocal_lra_lu"])
    if checks:
        worst = max(abs(c["error_vocal_to_backing_lu"]) for c in checks)
        log.info("demo truth check: max |vocal-to-backing error| = %.3f LU over %d tracks",
                 worst, len(checks))
        fitted = [abs(c["error_t60_mid_pct"]) for c in checks if "error_t60_mid_pct" in c]
        blind = [abs(c["blind_error_t60_mid_pct"]) for c in checks
                 if "blind_error_t60_mid_pct" in c]
        if fitted:
            log.info("reverb fit from the known room: |mid T60 error| median %.1f %%, max %.1f %%",
                     float(np.median(fitted)), max(fitted))
        if blind:
            log.info("blind estimate from the wet vocal: |mid T60 error| median %.1f %% (%d/%d "
                     "tracks with a free decay)", float(np.median(blind)), len(blind), len(checks))
