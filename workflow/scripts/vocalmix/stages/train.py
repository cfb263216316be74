"""Rule ``train_model``: one task model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from vocalmix.models.train import TrainSettings, train_task

__all__ = ["train_model"]


def train_model(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: train one task model."""
    train_task(inputs["dataset"], Path(outputs["model"]).parent, params["task"],
               seed=int(params["seed"]), settings=TrainSettings.from_mapping(params["train"]))
