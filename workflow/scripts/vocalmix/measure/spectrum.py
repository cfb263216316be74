"""Long-term average spectra in fractional-octave bands (the project's "EQ curves").

Bands are base-2 third octaves with exact centres ``1000 * 2**(k/3)`` Hz, k = -17..13
(19.7 Hz to 20.2 kHz; the nominal IEC 61260 labels are 20 Hz ... 20 kHz). Band power is
integrated from a Welch power spectrum through its cumulative sum, so narrow low bands
get their fractional share of FFT bins rather than zero or one whole bin. Levels are dB re
full-scale mean square (a full-scale sine reads -3 dB).

``shape`` curves subtract the curve's power-mean over the voice bands (100 Hz - 10 kHz),
so they describe the spectral balance independently of the gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["THIRD_OCTAVE_HZ", "NOMINAL_HZ", "Spectrum", "frame_power", "active_frames",
           "active_frames_of_mean_square", "band_levels_db", "curve_shape_db",
           "curve_difference_db", "long_term_spectrum", "OCTAVE_HZ", "octave_levels_db",
           "octave_shape_db"]

THIRD_OCTAVE_HZ = 1000.0 * np.power(2.0, np.arange(-17, 14) / 3.0)
NOMINAL_HZ = (20, 25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800,
              1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000,
              20000)
VOICE_BAND = (100.0, 10000.0)
N_FFT = 8192
#: Octave bands of the vocal's tonal balance (the rule-based EQ's target curve): the voice's
#: range, 125 Hz - 8 kHz, each the power sum of three third-octave bands.
OCTAVE_HZ = (125, 250, 500, 1000, 2000, 4000, 8000)


def frame_power(audio: NDArray, sample_rate: int, *, n_fft: int = N_FFT,
                hop: int | None = None) -> tuple[NDArray, NDArray]:
    """Per-frame one-sided power spectra (Hann window), channel-averaged.

    ``hop`` defaults to ``n_fft``: for long-term averages over whole tracks, overlap adds
    cost but no information worth having.

    Returns
    -------
    freqs : np.ndarray [shape=(n_fft//2+1,)]
    power : np.ndarray [shape=(frames, n_fft//2+1), dtype=float32]
        Scaled so that ``power.sum(axis=1)`` is each frame's mean square (Parseval, Hann).
    """
    from scipy import fft

    x = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    hop = hop or n_fft
    if x.shape[1] < n_fft:
        x = np.pad(x, ((0, 0), (0, n_fft - x.shape[1])))
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    scale = np.float32(2.0 / (x.shape[0] * n_fft * float(np.sum(win.astype(np.float64) ** 2))))
    n_frames = (x.shape[1] - n_fft) // hop + 1
    power = np.zeros((n_frames, n_fft // 2 + 1), dtype=np.float32)
    # frames in blocks of about 4 MB, which stay in cache (the same numbers, faster)
    per_block = max(1, (1 << 20) // n_fft)
    for c in range(x.shape[0]):
        view = np.lib.stride_tricks.sliding_window_view(x[c], n_fft)[::hop]
        for first in range(0, n_frames, per_block):
            rows = slice(first, min(first + per_block, n_frames))
            spec = fft.rfft(view[rows] * win, axis=1, overwrite_x=True)  # complex64
            power[rows] += np.square(spec.real) + np.square(spec.imag)
    power *= scale  # one-sided (x2), Parseval, channel mean
    power[:, 0] *= 0.5
    power[:, -1] *= 0.5
    return np.fft.rfftfreq(n_fft, 1.0 / sample_rate), power


def active_frames(power: NDArray, *, range_db: float = 30.0, floor: float = 1e-9) -> NDArray:
    """Frames within ``range_db`` of the loud frames (95th percentile), above ``floor``."""
    return active_frames_of_mean_square(power.sum(axis=1, dtype=np.float64),
                                        range_db=range_db, floor=floor)


def active_frames_of_mean_square(ms: NDArray, *, range_db: float = 30.0,
                                 floor: float = 1e-9) -> NDArray:
    """:func:`active_frames` from the frames' mean squares alone (``power.sum(axis=1,
    dtype=np.float64)`` of :func:`frame_power`), for a reader that streams the frames and
    keeps one number per frame."""
    ms = np.asarray(ms, dtype=np.float64)
    if not np.any(ms > floor):
        return np.zeros(ms.size, dtype=bool)
    ref = np.percentile(ms[ms > floor], 95)
    return (ms >= ref * 10 ** (-range_db / 10.0)) & (ms > floor)


def band_levels_db(freqs: NDArray, psd: NDArray, centres_hz: NDArray = THIRD_OCTAVE_HZ,
                   fraction: int = 3, sample_rate: int | None = None) -> NDArray:
    """Band levels (dB) of a one-sided power spectrum ``psd`` (power per bin).

    Bands whose upper edge is above Nyquist are NaN.
    """
    df = freqs[1] - freqs[0]
    edges = np.concatenate([[0.0], freqs + df / 2])  # bin k covers [f_k - df/2, f_k + df/2)
    cum = np.concatenate([[0.0], np.cumsum(psd)])
    lo = centres_hz * 2 ** (-0.5 / fraction)
    hi = centres_hz * 2 ** (0.5 / fraction)
    power = np.interp(hi, edges, cum) - np.interp(lo, edges, cum)
    nyq = freqs[-1] if sample_rate is None else sample_rate / 2
    with np.errstate(divide="ignore"):
        out = 10 * np.log10(np.maximum(power, 1e-30))
    return np.where(hi <= nyq * 1.0001, out, np.nan)


def curve_shape_db(levels_db: NDArray, centres_hz: NDArray = THIRD_OCTAVE_HZ) -> NDArray:
    """A curve minus its power-mean over the voice bands (100 Hz - 10 kHz)."""
    sel = (centres_hz >= VOICE_BAND[0]) & (centres_hz <= VOICE_BAND[1]) & np.isfinite(levels_db)
    ref = 10 * np.log10(np.mean(np.power(10.0, levels_db[sel] / 10.0)))
    return levels_db - ref


def octave_levels_db(third_octave_db: NDArray) -> NDArray:
    """Levels (dB) of the octave bands :data:`OCTAVE_HZ` from a third-octave curve on
    :data:`THIRD_OCTAVE_HZ`: each the power sum of the band centred on the octave and its
    two neighbours (NaN where one of them is)."""
    levels = np.asarray(third_octave_db, dtype=np.float64)
    if levels.shape[-1] != THIRD_OCTAVE_HZ.size:
        raise ValueError(f"a third-octave curve has {THIRD_OCTAVE_HZ.size} bands, not "
                         f"{levels.shape[-1]}")
    centre = [int(round(3 * np.log2(f / 1000.0))) + 17 for f in OCTAVE_HZ]
    power = np.power(10.0, levels / 10.0)
    return 10 * np.log10(np.stack([power[..., k - 1: k + 2].sum(axis=-1) for k in centre],
                                  axis=-1))


def octave_shape_db(third_octave_db: NDArray) -> NDArray:
    """The tonal balance of a third-octave curve: :func:`octave_levels_db` minus their
    power-mean, so a gain does not change it (NaN if a band is)."""
    oct_db = octave_levels_db(third_octave_db)
    return oct_db - 10 * np.log10(np.mean(np.power(10.0, oct_db / 10.0), axis=-1,
                                          keepdims=True))


def curve_difference_db(curve_db: NDArray, reference_db: NDArray, *, range_db: float = 30.0,
                        centres_hz: NDArray = THIRD_OCTAVE_HZ) -> float:
    """RMS difference (dB) of two third-octave curves over the voice bands (100 Hz - 10 kHz)
    in which the *reference* is within ``range_db`` of its loudest voice band.

    Bands far below the vocal's spectrum (under its fundamental, say, where a vocal stem
    holds only noise and reverberation 50-70 dB down) carry no audible EQ and would dominate
    an unrestricted RMS; ``range_db=None`` uses every voice band anyway.
    """
    a = np.asarray(curve_db, dtype=np.float64)
    r = np.asarray(reference_db, dtype=np.float64)
    sel = (centres_hz >= VOICE_BAND[0]) & (centres_hz <= VOICE_BAND[1]) & np.isfinite(a) \
        & np.isfinite(r)
    if not sel.any():
        return float("nan")
    if range_db is not None:
        sel &= r >= np.max(r[sel]) - range_db
    return float(np.sqrt(np.mean((a[sel] - r[sel]) ** 2)))


@dataclass
class Spectrum:
    """A long-term average spectrum and its third-octave curve."""

    freqs: NDArray
    psd: NDArray
    bands_db: NDArray
    frames_used: int

    @property
    def shape_db(self) -> NDArray:
        return curve_shape_db(self.bands_db)


def long_term_spectrum(audio: NDArray, sample_rate: int, *, mask: NDArray | None = None,
                       n_fft: int = N_FFT) -> Spectrum:
    """Average power spectrum over the frames in ``mask`` (default: the active frames)."""
    freqs, power = frame_power(audio, sample_rate, n_fft=n_fft)
    use = active_frames(power) if mask is None else mask[: power.shape[0]]
    if not np.any(use):
        psd = np.zeros(power.shape[1])
    else:
        psd = power[use].mean(axis=0, dtype=np.float64)
    return Spectrum(freqs, psd, band_levels_db(freqs, psd, sample_rate=sample_rate),
                    int(np.sum(use)))
