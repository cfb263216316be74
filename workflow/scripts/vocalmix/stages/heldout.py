"""Rule ``separate_heldout``: the separator on one held-out track with ground truth."""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np

from vocalmix.audio import write_audio
from vocalmix.corpus.tracks import Candidate, TrackRejected
from vocalmix.separation.api import check_backend, separate
from vocalmix.separation.heldout import mixture_of
from vocalmix.separation.settings import SeparationSettings
from vocalmix.separation.training import load_stems

log = logging.getLogger(__name__)

__all__ = ["separate_heldout"]


def separate_heldout(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                     params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: separate ``params['candidate']``'s mixture with ``params['separation']``."""
    cfg = params["config"]
    settings = SeparationSettings.from_mapping(params["separation"])
    check_backend(settings)
    c = Candidate(**params["candidate"])
    sr = int(cfg["sample_rate"])
    try:
        stems = load_stems(c, cfg)
    except TrackRejected as exc:  # reported, skipped by the quality table; the run goes on
        log.warning("%s cannot be scored: %s", c.track_id, exc)
        for key in ("vocal", "backing"):
            write_audio(outputs[key], np.zeros((1, 0), np.float32), sr)
        return
    mixture = mixture_of(stems)
    vocal, backing, info = separate(mixture, sr, settings, model=inputs.get("model"),
                                    threads=threads)
    write_audio(outputs["vocal"], vocal, sr)
    write_audio(outputs["backing"], backing, sr)
    log.info("%s: %.1f s separated (%s)", c.track_id, mixture.shape[1] / sr, info)
