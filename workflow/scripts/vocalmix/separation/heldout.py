"""Rule ``separate_heldout``: the configured separator on one held-out track with ground truth.

The mixture is the track's own mixture file where it has one (it may be mastered, so not the
plain sum of the stems), else vocal + backing, read exactly as ingestion reads it (at
``config.sample_rate``). The estimates go to ``results/separated/heldout/<track>/`` and are
scored by rule ``separation_quality`` (:mod:`vocalmix.separation.quality`), which runs in the
audio environment; this rule runs in the backend's own environment.
"""

from __future__ import annotations

import logging

import numpy as np

from vocalmix.corpus.tracks import Candidate, TrackRejected
from vocalmix.separation.api import check_backend, separate
from vocalmix.separation.stage import backend_settings
from vocalmix.separation.training import load_stems
from vocalmix.audio import to_channels, write_audio

log = logging.getLogger(__name__)

__all__ = ["mixture_of", "run"]


def mixture_of(stems):
    """The mixture a held-out track is separated from: its own file, else vocal + backing."""
    mixture = stems.meta.get("mixture")
    if mixture is None:
        return stems.vocal + stems.backing
    return to_channels(mixture, stems.vocal.shape[0])


def run(inputs: dict, outputs: dict, params: dict, threads: int = 1) -> None:
    """Stage entry: separate ``params['candidate']``'s mixture with ``params['separation']``."""
    cfg = params["config"]
    sep = params["separation"]
    settings = backend_settings(sep)
    check_backend(sep["backend"], settings)
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
    vocal, backing, info = separate(mixture, sr, backend=sep["backend"], settings=settings,
                                    model=inputs.get("model"), threads=threads)
    write_audio(outputs["vocal"], vocal, sr)
    write_audio(outputs["backing"], backing, sr)
    log.info("%s: %.1f s separated (%s)", c.track_id, mixture.shape[1] / sr, info)
