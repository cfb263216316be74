"""Rule ``extract_features``: the ground-truth features of one track."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from vocalmix.features.extract import FeatureSettings, extract_track
from vocalmix.files import write_json
from vocalmix.tables import fixed, write_table

log = logging.getLogger(__name__)

__all__ = ["extract_features"]


def extract_features(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                     params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: features JSON and per-window TSV of one track."""

    from vocalmix.seeding import derive_seed

    roles = ("vocal", "backing", "mixture", "raw_vocal")
    paths = {r: inputs[r] for r in roles if inputs.get(r)}
    row = params["track"]
    feats, windows = extract_track(paths, int(params["sample_rate"]),
                                   FeatureSettings.from_mapping(params["features"]),
                                   room_ir=inputs.get("room_ir"),
                                   seed=derive_seed(params["seed"], "reverb_fit", row["track_id"]))
    feats.update({k: row.get(k) for k in ("track_id", "split", "genre", "source", "dataset")})
    write_json(outputs["features"], feats)
    cols = ["track_id", "window", "start_s", "end_s", "silent", "vocal_active_fraction",
            "vocal_lufs", "backing_lufs", "vocal_to_backing_lu", "mixture_lufs"]
    write_table(outputs["windows"], [{**win, "track_id": row["track_id"]} for win in windows],
                cols, cell=fixed(4, nonfinite=None))
    lar = feats.get("vocal_to_backing_lu", feats.get("raw_vocal_to_backing_lu"))
    log.info("%s: vocal-to-backing %.2f LU, vocal LRA %s LU, %d/%d windows silent",
             row["track_id"], lar, feats[feats["lead"]]["loudness_range_lu"],
             feats["windows"]["silent"], feats["windows"]["count"])
    rv = feats["reverb"]
    if rv["method"] != "none":
        log.info("%s: reverb fitted (%s), %d evaluations: mid T60 %.2f s (target "
                 "%.2f s), cost %.2f", row["track_id"], rv["method"],
                 rv["evaluations"], rv["fitted"]["t60_mid_s"] or float("nan"),
                 rv["target"]["t60_mid_s"] or float("nan"), rv["cost"])
