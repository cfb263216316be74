"""Rule ``separate``: one finished song -> ``results/separated/<track>/{vocal,backing}.wav``.

The song is read (any format libsndfile reads), resampled once to ``config.sample_rate``,
separated by the configured backend and written as float WAVs at that rate (the default
``pretrained`` backend on a 44.1 kHz song: read, separated, written and measured in blocks,
:func:`vocalmix.separation.api.separate_file`), with
``report.json``: what ran, how long it took, and what can be said without ground truth (a
finished song has no stems): the integrated loudness of mixture, vocal and backing, the
vocal-to-backing ratio, and the share of the mixture's energy given to the vocal
(:func:`describe` of whole arrays, :class:`Description` of signals given block by block).

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

__all__ = ["describe", "Description"]


def _lufs(audio: np.ndarray, sample_rate: int) -> float | None:
    from vocalmix.measure.loudness import integrated_loudness

    value = integrated_loudness(audio, sample_rate)
    return float(value) if math.isfinite(value) else None


def describe(mixture: np.ndarray, vocal: np.ndarray, backing: np.ndarray,
             sample_rate: int) -> dict:
    """Reference-free facts about a separation (levels, the vocal's energy share)."""
    ev = float(np.sum(np.square(vocal, dtype=np.float64)))
    eb = float(np.sum(np.square(backing, dtype=np.float64)))
    return _facts(_lufs(mixture, sample_rate), _lufs(vocal, sample_rate),
                  _lufs(backing, sample_rate), ev, eb)


def _facts(mix_lufs: float | None, vocal_lufs: float | None, backing_lufs: float | None,
           ev: float, eb: float) -> dict:
    return {
        "mixture_lufs": mix_lufs, "vocal_lufs": vocal_lufs, "backing_lufs": backing_lufs,
        "vocal_to_backing_lu": (vocal_lufs - backing_lufs
                                if vocal_lufs is not None and backing_lufs is not None else None),
        "vocal_energy_share": ev / (ev + eb) if ev + eb > 0 else None,
    }


class Description:
    """:func:`describe` of a separation whose signals arrive in blocks, in constant memory.

    Feed the mixture's blocks to :meth:`add_mixture` and the stems' to :meth:`add_stems`
    (each signal in order; the three need not be cut alike), then take :meth:`facts`. The
    loudness meter is :mod:`vocalmix.measure.loudness`'s own accumulator, the one
    :func:`~vocalmix.measure.loudness.analyse` runs in chunks: the levels are those of
    :func:`describe` (the K-filter's state and partial hops carry across blocks), and the
    energy share differs from it only by the rounding of the float64 sums (relative 1e-12).
    Blocks are metered :attr:`STEP` frames at a time in the calling thread
    (:class:`~vocalmix.measure.loudness.BlockMeter`), so a block may be reused once the
    call returns.
    """

    #: frames metered at a time: below the meter's threshold for filtering channels in
    #: worker threads (their heaps keep freed blocks apart), and small float64 copies
    STEP = 1 << 16

    def __init__(self, sample_rate: int, channels: int) -> None:
        from vocalmix.measure import loudness

        self.sample_rate = sample_rate
        self._meters = {k: loudness.BlockMeter(sample_rate, channels)
                        for k in ("mixture", "vocal", "backing")}
        self.vocal_energy = 0.0
        self.backing_energy = 0.0

    def add_mixture(self, block: np.ndarray) -> None:
        """The mixture's next ``(channels, n)`` block."""
        for start in range(0, block.shape[1], self.STEP):
            self._meters["mixture"].add(block[:, start:start + self.STEP])

    def add_stems(self, vocal: np.ndarray, backing: np.ndarray) -> None:
        """The vocal's and the backing's next ``(channels, n)`` blocks."""
        for start in range(0, vocal.shape[1], self.STEP):
            v, b = vocal[:, start:start + self.STEP], backing[:, start:start + self.STEP]
            self._meters["vocal"].add(v)
            self._meters["backing"].add(b)
            self.vocal_energy += float(np.sum(np.square(v, dtype=np.float64)))
            self.backing_energy += float(np.sum(np.square(b, dtype=np.float64)))

    def facts(self) -> dict:
        """The figures of :func:`describe` (raises AudioError, as it does, for signals
        shorter than one 400 ms loudness block)."""
        try:
            levels = {}
            for k, meter in self._meters.items():
                value = meter.result().integrated_lufs
                levels[k] = float(value) if math.isfinite(value) else None
        finally:
            self.close()
        return _facts(levels["mixture"], levels["vocal"], levels["backing"],
                      self.vocal_energy, self.backing_energy)

    def close(self) -> None:
        """Release the meters (their worker threads, had any started)."""
        for meter in self._meters.values():
            meter.close()

    def __enter__(self) -> Description:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
