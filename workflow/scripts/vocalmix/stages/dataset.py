"""Rule ``build_dataset``: the windowed training dataset."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

from vocalmix.features.extract import WindowSettings
from vocalmix.models.dataset import DatasetSettings, build

log = logging.getLogger(__name__)

__all__ = ["build_dataset"]


def build_dataset(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                  params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: build ``results/dataset`` from the tracks in ``params['tracks']``."""
    features = {Path(p).name.removesuffix(".json"): p for p in inputs["features"]}
    windows = {Path(p).name.removesuffix(".windows.tsv"): p for p in inputs["windows"]}
    corrupted: dict[str, dict[int, list[str]]] = {}
    for audio in inputs["corrupted"]:
        a = Path(audio)
        version = int(a.stem.lstrip("v"))
        corrupted.setdefault(a.parent.name, {})[version] = [str(a), str(a.with_suffix(".json"))]
    tracks = []
    for row in params["tracks"]:
        tid = row["track_id"]
        versions = corrupted.get(tid, {})
        weight = row.get("weight")
        tracks.append({"track_id": tid, "split": row["split"],
                       "weight": 1.0 if weight is None else weight,  # 0 stays 0
                       "source": row.get("source") or "stems",
                       "backing": row["backing"], "features": features[tid],
                       "windows": windows[tid],
                       "corrupted": [tuple(versions[k]) for k in sorted(versions)]})
    desc = build(tracks, outputs["dataset"], sample_rate=int(params["sample_rate"]),
                 windows=WindowSettings.from_mapping(params["windows"]),
                 settings=DatasetSettings.from_mapping(params["dataset"]))
    log.info("dataset: %s", json.dumps(desc["counts"]))
