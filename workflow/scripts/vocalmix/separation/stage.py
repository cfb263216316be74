"""Rule ``separate``: one finished song -> ``results/separated/<track>/{vocal,backing}.wav``.

The song is read (any format libsndfile reads), resampled once to ``config.sample_rate``,
separated by the configured backend and written as float WAVs at that rate, with
``report.json``: what ran, how long it took, and what can be said without ground truth (a
finished song has no stems): the integrated loudness of mixture, vocal and backing, the
vocal-to-backing ratio, and the share of the mixture's energy given to the vocal.

A song that cannot be read is not fatal: the report records the problem and the two stems
are written empty, so ingestion rejects the track (naming the song and the problem, since
the song is read first) and the other tracks go on. Missing weights for spleeter or demucs
*are* fatal: that is a configuration error.
"""

from __future__ import annotations

import logging
import math

import numpy as np


log = logging.getLogger(__name__)

__all__ = ["describe"]


def _lufs(audio: np.ndarray, sample_rate: int) -> float | None:
    from vocalmix.measure.loudness import integrated_loudness

    value = integrated_loudness(audio, sample_rate)
    return float(value) if math.isfinite(value) else None


def describe(mixture: np.ndarray, vocal: np.ndarray, backing: np.ndarray,
             sample_rate: int) -> dict:
    """Reference-free facts about a separation (levels, the vocal's energy share)."""
    mix_lufs = _lufs(mixture, sample_rate)
    vocal_lufs = _lufs(vocal, sample_rate)
    backing_lufs = _lufs(backing, sample_rate)
    ev = float(np.sum(np.square(vocal, dtype=np.float64)))
    eb = float(np.sum(np.square(backing, dtype=np.float64)))
    return {
        "mixture_lufs": mix_lufs, "vocal_lufs": vocal_lufs, "backing_lufs": backing_lufs,
        "vocal_to_backing_lu": (vocal_lufs - backing_lufs
                                if vocal_lufs is not None and backing_lufs is not None else None),
        "vocal_energy_share": ev / (ev + eb) if ev + eb > 0 else None,
    }
