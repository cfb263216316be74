"""Fresh corruption EQs for training windows, drawn in the log-mel domain.

The corruption stage writes a few EQ'd versions of each track; a corpus of ten songs thus
shows the EQ model only a few dozen distinct EQs, far too few to learn what a random EQ
looks like on a voice. An EQ is a linear filter, so on a log-mel window its effect is
(very nearly) an addition: ``mel_db(EQ x) = mel_db(x) + R_m``, with ``R_m`` the EQ's power
response averaged over mel filter ``m`` (exact for a spectrum flat within the filter; the
random EQs of :mod:`vocalmix.dsp.corruption` are at most Q 3, wider than the mel filters at
every frequency). A training window can therefore swap its recorded corruption for a new
one drawn from the same ranges -- ``x_vocal += R_new - R_recorded``, target = the new
EQ's inverse -- at no audio cost. The level change of the swap is taken out again as the
per-track loudness normalisation would (power-weighted over the window's mel spectrum).

The EQ responses come from a seeded bank of random EQs measured through the same
pedalboard filters as the corruption (:func:`vocalmix.dsp.effects.eq_response_db`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from vocalmix.measure.spectrum import THIRD_OCTAVE_HZ

__all__ = ["EQResponses", "correction_shape_db", "MelEQAugment"]

VOICE_BAND = (100.0, 10000.0)


def correction_shape_db(response_db: NDArray, bands_hz: NDArray = THIRD_OCTAVE_HZ) -> NDArray:
    """An EQ correction curve minus its mean over the voice bands (100 Hz - 10 kHz): the
    EQ's *shape*; its broadband gain is the level decision's business. Works on the last
    axis; NaN bands (above Nyquist) stay NaN."""
    r = np.asarray(response_db, dtype=np.float64)
    sel = (np.asarray(bands_hz) >= VOICE_BAND[0]) & (np.asarray(bands_hz) <= VOICE_BAND[1])
    with np.errstate(all="ignore"):
        mean = np.nanmean(r[..., sel], axis=-1, keepdims=True)
    return r - mean


class EQResponses:
    """Responses of EQs at mel-filter and third-octave resolution."""

    def __init__(self, spec: dict, bands_hz: NDArray = THIRD_OCTAVE_HZ):
        from vocalmix.measure.mel import mel_filterbank

        self.sample_rate = int(spec["sample_rate"])
        fb = mel_filterbank(self.sample_rate, int(spec["n_fft"]), int(spec["n_mels"])).astype(
            np.float64)
        self.weights = fb / np.maximum(fb.sum(axis=1, keepdims=True), 1e-12)
        self.fft_hz = np.fft.rfftfreq(int(spec["n_fft"]), 1.0 / self.sample_rate)
        self.bands_hz = np.asarray(bands_hz, dtype=np.float64)
        self.valid = self.bands_hz * 2 ** (1 / 6) <= self.sample_rate / 2

    def __call__(self, bands) -> tuple[NDArray, NDArray]:
        """(mel response ``(n_mels,)`` dB, third-octave response ``(n_bands,)`` dB; NaN
        above Nyquist) of the EQ ``bands``."""
        from vocalmix.dsp.effects import eq_response_db

        if not bands:
            return np.zeros(self.weights.shape[0]), np.where(self.valid, 0.0, np.nan)
        grid = np.concatenate([self.fft_hz, self.bands_hz])
        r = eq_response_db(bands, grid, self.sample_rate)
        fft_r, third = r[: self.fft_hz.size], r[self.fft_hz.size:]
        mel = 10.0 * np.log10(self.weights @ np.power(10.0, fft_r / 10.0))
        return mel, np.where(self.valid, third, np.nan)


class MelEQAugment:
    """Swap a share of training windows' corruption EQ for one from a seeded bank.

    Parameters
    ----------
    spec : dict
        The dataset's input description (sample rate, n_fft, n_mels).
    recorded_mel : ndarray ``(windows, n_mels)``
        The mel response of each training window's recorded corruption EQ.
    seed : int
        Seed of the bank and of the draws.
    probability : float
        Share of windows per batch given a new EQ.
    bank_size : int
        Random EQs measured once.
    """

    def __init__(self, spec: dict, recorded_mel: NDArray, *, seed: int, probability: float = 0.5,
                 bank_size: int = 512):
        from vocalmix.dsp.corruption import random_eq

        self.responses = EQResponses(spec)
        self.recorded = np.asarray(recorded_mel, dtype=np.float32)
        self.probability = float(probability)
        rng = np.random.default_rng(seed)
        mel, third = zip(*(self.responses(random_eq(rng)) for _ in range(bank_size)))
        self.bank_mel = np.asarray(mel, dtype=np.float32)
        # the target is the inverse EQ's shape: minus the response, mean-free
        self.bank_target = correction_shape_db(-np.asarray(third)).astype(np.float32)
        self.rng = np.random.default_rng(seed + 1)

    def __call__(self, x: NDArray, y_eq: NDArray, rows: NDArray, vocal_channel: int
                 ) -> tuple[NDArray, NDArray]:
        """Augment a batch in place-free fashion: ``x`` raw log-mels ``(b, c, mels, frames)``
        (dB), ``y_eq`` the raw EQ targets ``(b, bands)``, ``rows`` the windows' indices into
        ``recorded_mel``. Returns new arrays."""
        x = np.array(x, dtype=np.float32, copy=True)
        y_eq = np.array(y_eq, dtype=np.float32, copy=True)
        swap = self.rng.uniform(size=len(rows)) < self.probability
        if not swap.any():
            return x, y_eq
        pick = self.rng.integers(0, len(self.bank_mel), size=int(swap.sum()))
        delta = self.bank_mel[pick] - self.recorded[np.asarray(rows)[swap]]  # (k, mels)
        v = x[swap, vocal_channel]  # (k, mels, frames) dB
        power = np.power(10.0, v.astype(np.float64) / 10.0).mean(axis=2)  # (k, mels)
        level = 10.0 * np.log10((power * np.power(10.0, delta / 10.0)).sum(axis=1)
                                / np.maximum(power.sum(axis=1), 1e-30))
        x[swap, vocal_channel] = v + (delta - level[:, None])[:, :, None]
        new = self.bank_target[pick]
        y_eq[swap] = np.where(np.isnan(y_eq[swap]), np.nan, new)
        return x, y_eq
