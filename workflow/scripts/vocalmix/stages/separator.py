"""Rule ``train_separator``: the builtin separator's mask network."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from vocalmix.corpus.tracks import Candidate
from vocalmix.separation import builtin
from vocalmix.separation.settings import BuiltinSettings
from vocalmix.separation.training import load_all_stems, plot_training_curve
from vocalmix.tables import text, write_table

log = logging.getLogger(__name__)

__all__ = ["train_separator"]


def train_separator(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                    params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: train on ``params['train']``, select on ``params['valid']`` (candidate
    dicts), with ``params['config']`` (seed, sample_rate, ingest, separation.builtin)."""
    cfg = params["config"]
    settings = BuiltinSettings.from_mapping(cfg["separation"]["builtin"])
    max_s = float(settings.max_seconds_per_track)
    train = load_all_stems([Candidate(**d) for d in params["train"]], cfg, max_s)
    valid = load_all_stems([Candidate(**d) for d in params["valid"]], cfg, max_s)
    log.info("training the builtin separator on %d track(s) (%.1f min), selecting on %d",
             len(train), sum(t.vocal.shape[1] for t in train) / cfg["sample_rate"] / 60,
             len(valid))
    ckpt, curve = builtin.train(train, valid, sample_rate=int(cfg["sample_rate"]),
                                seed=int(cfg["seed"]), settings=settings)
    builtin.save_model(outputs["model"], ckpt)
    # no timings in the curve: same config, same bytes
    write_table(outputs["curve"], curve, ["step", "train_loss", "valid_loss"],
                cell=lambda v: f"{v:.6g}" if isinstance(v, float) else text(v), delimiter=",")
    plot_training_curve(curve, outputs["plot"])
    log.info("best step %d of %d (selected on %s); %.1f s", ckpt["best_step"],
             curve[-1]["step"], ckpt["selected_on"], curve[-1]["seconds"])
