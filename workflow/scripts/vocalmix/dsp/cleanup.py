"""Clean-up of phone takes: stationary noise reduction and de-essing, in the STFT domain.

Both effects work on a ``(channels, samples)`` float32 vocal and are deterministic. Each
computes a real gain per STFT frame and frequency bin and returns the input minus the
inverse STFT of ``(1 - gain) * spectrum``. Where every gain is exactly 1 (a clean take's
bins with no noise, frames where the de-esser does not trigger) the correction is exactly
zero, so the output *is* the input, bit for bit. Elsewhere the result equals the ISTFT of
``gain * spectrum`` (the frames reconstruct perfectly). Stereo (or more) channels share one
gain, computed from their mean power, so the stereo image does not wander. The output has
the input's shape and dtype float32, aligned with it (offline processing, no latency).

STFT: periodic Hann window of ``2 ** round(log2(0.046 * sample_rate))`` samples (2048 at
44.1 and 48 kHz), hop a quarter of it (11.6 ms at 44.1 kHz). The window's squares overlap-add
to 1.5, so the same window divided by 1.5 resynthesises the input exactly (Allen & Rabiner
1977, weighted overlap-add). The signal is handled in blocks of :data:`BLOCK_FRAMES` frames
(about 6 s at 44.1 kHz). A block's gains need its spectra only, plus a few frames of context
for the smoothing, and blocks overlap-add into the output, so memory does not grow with the
take: the output array plus a few tens of MB. Inputs shorter than one STFT frame come back
unchanged, with a report that says so.

**Noise reduction** (:class:`NoiseReduction`, :func:`denoise`): a Wiener gain against a
stationary noise spectrum (hiss, hum, room tone) estimated from the take itself.

* Noise spectrum: each channel's power spectrum is smoothed over time (a Hann kernel
  ``smoothing_ms`` wide) and over three frequency bins. For each bin, the take's
  ``noise_percentile``-th percentile is taken over frames (at most :data:`MAX_NOISE_FRAMES`
  frames, evenly subsampled: a bounded summary). The estimate assumes that at least that
  share of the take is rests (noise only). A low percentile of noise-only frames is below
  the noise's mean, by a known ratio. The smoothed power of Gaussian noise is a quadratic
  form in the samples, and its distribution (a generalised chi-square) follows from the
  window, the hop and the smoothing kernels (Martin 2001 corrects a minimum in the same
  spirit). Dividing by that ratio gives the noise's mean power. Rests
  of digital silence make the estimate exactly 0 in every bin, so a clean take passes
  unchanged. The other side of this: a noisy take whose rests are mostly digital silence
  (edited or padded) gets no noise estimate either.
* Gain: ``G = 1 - beta * N / P`` (the Wiener gain ``S / (S + N)`` with the clean power taken
  as ``P - beta N``; Boll 1979 and Berouti et al. 1979 for the over-subtraction ``beta``).
  ``P`` is the channel-mean power smoothed as above, so the gain varies slowly enough in
  time and frequency to avoid "musical noise". ``N`` is the noise estimate. ``G`` is clipped
  to ``[10 ** (-max_reduction_db / 20), 1]``. Bins with no noise keep ``G = 1``. The gain is
  smallest where there is only noise (rests), and stays near 1 on sung harmonics well
  above the noise.

Parameters: ``max_reduction_db`` (0-60 dB; 0 switches the effect off): the most a bin is
attenuated, i.e. the residual noise in rests. ``over_subtraction_db`` (0-20 dB): ``beta``.
More removes more noise and more of the weakest partials. ``noise_percentile`` (1-50 %):
the share of the take assumed to be rests. ``smoothing_ms`` (0-500 ms): the time span of
the power smoothing. Longer gives less musical noise but smears note onsets and ends.

Report (:func:`denoise`):

* ``noise_floor_dbfs``: the noise's RMS as ``20 log10 rms`` (``-inf`` when none was found).
* ``noise_octaves_dbfs``: the same per octave band, keyed by nominal centre frequency in Hz.
  Tonal noise (hum) varies less than Gaussian noise, so its power is overestimated, by up
  to 3.5 dB at the default settings.
* ``snr_db``: mean power of the non-rest frames over the noise.
* ``rest_share``: share of frames within 3 dB of the noise floor (rests).
* ``rest_reduction_db``: mean attenuation of the power in those frames.
* ``stft``: ``n_fft`` and ``hop``.

**De-esser** (:class:`DeEsser`, :func:`deess`): split-band compression of sibilants. A
frame is *sibilant* when its power above ``frequency_hz`` is at least ``high_band_share_db``
relative to its power above 80 Hz (an "s" has most of its energy up there, while a bright
vowel has a few harmonics), *and* that high-band level is above ``threshold_db`` relative to
the take's loud level (the 95th percentile of frame power over frames within 60 dB of the
loudest). A sibilant frame's target reduction is ``(level - threshold_db) * (1 - 1 / ratio)``,
capped at ``max_reduction_db``. The reduction follows the target with one-pole attack and
release (``attack_ms``, ``release_ms``; the time step is the hop, so anything shorter than
about 12 ms acts at once). Below 0.01 dB it is set to exactly 0. The reduction applies to the
bins above the split only, with a raised-cosine crossover a third of an octave wide
centred on ``frequency_hz``. Frames with no reduction pass unchanged.

Parameters: ``frequency_hz`` (2-16 kHz; below the Nyquist frequency), ``threshold_db``
(-60-0 dB re the loud level), ``ratio`` (1-20), ``max_reduction_db`` (0-40 dB),
``high_band_share_db`` (-30-0 dB), ``attack_ms`` (0-100 ms), ``release_ms`` (0-1000 ms).

Report (:func:`deess`): ``sibilant_frames``, ``sibilant_share``, ``mean_reduction_db``
(over sibilant frames), ``max_reduction_db``, ``loud_level_dbfs`` (the take's loud level as
the RMS of a windowed frame, ``20 log10 rms``) and ``stft``.

:class:`Cleanup` is the recipe entry (either effect may be ``None``, off), with a JSON round
trip. :func:`apply_cleanup` runs the noise reduction, then the de-esser. The de-esser's
detector reads the denoised spectra, and the output is the input minus the ISTFT of
``(1 - g_nr g_de) * spectrum``, subtracted as ``(1 - g_nr)`` in the pass the detector
listens in and ``g_nr (1 - g_de)`` on the blocks the de-esser reduces (equal up to float32
rounding, about 1e-7 of the correction; the very samples where it reduces nothing).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, Iterator

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import validate_audio

__all__ = ["NoiseReduction", "DeEsser", "Cleanup", "denoise", "deess", "apply_cleanup",
           "stft_size", "NOISE_RANGES", "DEESSER_RANGES", "BLOCK_FRAMES", "MAX_NOISE_FRAMES"]

#: STFT frames per processing block (about 6 s at 44.1 kHz).
BLOCK_FRAMES = 512
#: Most frames the noise estimate keeps (evenly subsampled): about 12 MB per channel at 44.1 kHz.
MAX_NOISE_FRAMES = 3000
_FRAME_S = 0.046
_FULL_BAND_FROM_HZ = 80.0
_LOUD_PERCENTILE = 95.0
_LOUD_SPAN_DB = 60.0
_SNAP_DB = 0.01
_OCTAVES_HZ = (31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)

#: Allowed range and unit of every noise-reduction parameter.
NOISE_RANGES: dict[str, tuple[float, float, str]] = {
    "max_reduction_db": (0.0, 60.0, "dB"),
    "over_subtraction_db": (0.0, 20.0, "dB"),
    "noise_percentile": (1.0, 50.0, "%"),
    "smoothing_ms": (0.0, 500.0, "ms"),
}
#: Allowed range and unit of every de-esser parameter.
DEESSER_RANGES: dict[str, tuple[float, float, str]] = {
    "frequency_hz": (2000.0, 16000.0, "Hz"),
    "threshold_db": (-60.0, 0.0, "dB"),
    "ratio": (1.0, 20.0, ""),
    "max_reduction_db": (0.0, 40.0, "dB"),
    "high_band_share_db": (-30.0, 0.0, "dB"),
    "attack_ms": (0.0, 100.0, "ms"),
    "release_ms": (0.0, 1000.0, "ms"),
}


def _check_ranges(obj: Any, ranges: dict[str, tuple[float, float, str]], what: str) -> None:
    for name, (lo, hi, unit) in ranges.items():
        v = getattr(obj, name)
        ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
              and lo <= v <= hi)
        if not ok:
            raise ValueError(f"{what} {name} must be in [{lo:g}, {hi:g}] {unit}".rstrip()
                             + f", got {v!r}")


def _from_dict(cls: type, d: Any, ranges: dict[str, tuple[float, float, str]], what: str):
    if not isinstance(d, dict):
        raise ValueError(f"{what}: expected an object with keys {', '.join(ranges)} "
                         f"(or null), got {type(d).__name__}")
    unknown = set(d) - set(ranges)
    if unknown:
        raise ValueError(f"unknown {what} parameter(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(ranges)}")
    return cls(**d)


@dataclass(frozen=True)
class NoiseReduction:
    """Stationary noise reduction (see the module docstring for the method).

    Attributes
    ----------
    max_reduction_db : float
        Largest attenuation of any bin, 0-60 dB (0: off): the residual noise in rests.
    over_subtraction_db : float
        Noise estimate scaled up by this much in the Wiener gain, 0-20 dB.
    noise_percentile : float
        Share of the take assumed to be rests (noise only), 1-50 %.
    smoothing_ms : float
        Time span of the power smoothing behind the gain and the estimate, 0-500 ms.
    """

    max_reduction_db: float = 24.0
    over_subtraction_db: float = 3.0
    noise_percentile: float = 10.0
    smoothing_ms: float = 50.0

    def __post_init__(self):
        _check_ranges(self, NOISE_RANGES, "noise reduction")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NoiseReduction":
        return _from_dict(cls, d, NOISE_RANGES, "noise reduction")


@dataclass(frozen=True)
class DeEsser:
    """Split-band de-esser (see the module docstring for the detector and the gain).

    Attributes
    ----------
    frequency_hz : float
        Split frequency, 2-16 kHz: bins above are the sibilant band.
    threshold_db : float
        High-band level above which a sibilant frame is reduced, relative to the take's loud
        level, -60-0 dB.
    ratio : float
        Compression ratio above the threshold, 1-20.
    max_reduction_db : float
        Largest reduction of the high band, 0-40 dB (0: off).
    high_band_share_db : float
        Least high-band share of a frame's power (dB re the band above 80 Hz) for it to be
        sibilant, -30-0 dB.
    attack_ms, release_ms : float
        Time constants of the reduction, 0-100 ms and 0-1000 ms.
    """

    frequency_hz: float = 5000.0
    threshold_db: float = -24.0
    ratio: float = 4.0
    max_reduction_db: float = 12.0
    high_band_share_db: float = -6.0
    attack_ms: float = 5.0
    release_ms: float = 60.0

    def __post_init__(self):
        _check_ranges(self, DEESSER_RANGES, "de-esser")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DeEsser":
        return _from_dict(cls, d, DEESSER_RANGES, "de-esser")


@dataclass(frozen=True)
class Cleanup:
    """Phone-take clean-up: noise reduction, then de-essing; ``None`` switches one off.

    JSON form: ``{"noise_reduction": {...} | null, "deesser": {...} | null}``. A missing
    effect is off, and a missing parameter takes its default.
    """

    noise_reduction: NoiseReduction | None = None
    deesser: DeEsser | None = None

    def __post_init__(self):
        if self.noise_reduction is not None and not isinstance(self.noise_reduction,
                                                               NoiseReduction):
            raise ValueError("cleanup noise_reduction must be NoiseReduction or None, got "
                             f"{type(self.noise_reduction).__name__}")
        if self.deesser is not None and not isinstance(self.deesser, DeEsser):
            raise ValueError("cleanup deesser must be DeEsser or None, got "
                             f"{type(self.deesser).__name__}")

    def to_dict(self) -> dict:
        return {f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to_dict()
                for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "Cleanup":
        if not isinstance(d, dict):
            raise ValueError(f"cleanup: expected an object, got {type(d).__name__}")
        unknown = set(d) - {"noise_reduction", "deesser"}
        if unknown:
            raise ValueError(f"unknown cleanup key(s): {', '.join(sorted(unknown))}; "
                             "known: noise_reduction, deesser")
        nr, de = d.get("noise_reduction"), d.get("deesser")
        return cls(noise_reduction=None if nr is None else NoiseReduction.from_dict(nr),
                   deesser=None if de is None else DeEsser.from_dict(de))


# ---------------------------------------------------------------------------------------------
# STFT in blocks


def stft_size(sample_rate: float) -> int:
    """FFT length (samples) of the clean-up STFT at ``sample_rate``: the power of two nearest
    to 46 ms, 256 to 16384 (2048 at 44.1 and 48 kHz). The hop is a quarter of it."""
    return int(min(max(2 ** round(math.log2(_FRAME_S * sample_rate)), 256), 16384))


class _Stft:
    """Frame geometry of a signal of ``n`` samples: frame ``f`` covers samples
    ``[f * hop - pad, f * hop - pad + n_fft)`` with ``pad = n_fft - hop``, so that every sample
    is under four frames and the windows' squares sum to 1.5 everywhere."""

    def __init__(self, sample_rate: float, n: int):
        self.n_fft = stft_size(sample_rate)
        self.hop = self.n_fft // 4
        self.pad = self.n_fft - self.hop
        self.n = n
        self.n_frames = (n - 1 + self.pad) // self.hop + 1
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.n_fft) / self.n_fft)
                       ).astype(np.float32)
        self.freqs_hz = np.fft.rfftfreq(self.n_fft, 1.0 / sample_rate)
        self.hop_s = self.hop / sample_rate

    def blocks(self) -> Iterator[tuple[int, int]]:
        step = max(int(BLOCK_FRAMES), 1)
        for f0 in range(0, self.n_frames, step):
            yield f0, min(f0 + step, self.n_frames)

    def spectra(self, x: NDArray[np.float32], f0: int, f1: int) -> NDArray[np.complex64]:
        """``(channels, f1 - f0, bins)`` spectra of frames ``f0`` to ``f1``."""
        from scipy import fft

        start = f0 * self.hop - self.pad
        stop = (f1 - 1) * self.hop - self.pad + self.n_fft
        seg = np.zeros((x.shape[0], stop - start), dtype=np.float32)
        a, b = max(start, 0), min(stop, self.n)
        if b > a:
            seg[:, a - start:b - start] = x[:, a:b]
        frames = np.lib.stride_tricks.sliding_window_view(seg, self.n_fft, axis=-1)[:, ::self.hop]
        return fft.rfft(frames * self.window, axis=-1)

    def subtract(self, y: NDArray[np.float32], spec: NDArray[np.complex64], f0: int) -> None:
        """``y -= ISTFT(spec)`` for frames from ``f0`` (weighted overlap-add, in place)."""
        from scipy import fft

        frames = fft.irfft(spec, n=self.n_fft, axis=-1) * (self.window / np.float32(1.5))
        c, nf, h = frames.shape[0], frames.shape[1], self.hop
        acc = np.zeros((c, nf + 3, h), dtype=np.float32)
        for j in range(4):
            acc[:, j:j + nf] += frames[:, :, j * h:(j + 1) * h]
        acc = acc.reshape(c, -1)
        start = f0 * h - self.pad
        a, b = max(start, 0), min(start + acc.shape[1], self.n)
        y[:, a:b] -= acc[:, a - start:b - start]


def _time_kernel(smoothing_ms: float, hop_s: float) -> NDArray[np.float64]:
    half = int(round(smoothing_ms / 1000.0 / hop_s / 2.0))
    k = np.hanning(2 * half + 3)[1:-1]
    return k / k.sum()


_FREQ_KERNEL = np.array([0.25, 0.5, 0.25])


def _smoothed(power: NDArray, c0: int, f0: int, f1: int, c1: int,
              kernel: NDArray[np.float64], rows: NDArray | None = None) -> NDArray[np.float32]:
    """Power ``(..., c1 - c0, bins)`` of frames ``c0..c1`` smoothed over time (``kernel``,
    edge frames repeated at the signal's ends) and three bins: frames ``f0..f1``, or only
    the frames ``f0 + rows`` (the same numbers as those rows of all of them)."""
    from scipy.ndimage import convolve1d

    half = len(kernel) // 2
    lead, trail = half - (f0 - c0), half - (c1 - f1)
    if rows is None:
        pad = [(0, 0)] * (power.ndim - 2) + [(lead, trail), (0, 0)]
        p = np.pad(power, pad, mode="edge") if lead or trail else power
        n = f1 - f0
        out = np.zeros(power.shape[:-2] + (n, power.shape[-1]), dtype=np.float32)
        for d, w in enumerate(kernel):
            out += np.float32(w) * p[..., d:d + n, :]
    else:  # row r of the padded power above is frame r - lead here, clipped (edge frames)
        out = np.zeros(power.shape[:-2] + (len(rows), power.shape[-1]), dtype=np.float32)
        for d, w in enumerate(kernel):
            at = np.clip(np.asarray(rows) + d - lead, 0, power.shape[-2] - 1)
            out += np.float32(w) * power[..., at, :]
    return convolve1d(out, _FREQ_KERNEL.astype(np.float32), axis=-1, mode="nearest")


def _channel_mean(power: NDArray[np.float32]) -> NDArray[np.float32]:
    """Mean over the channels (axis 0); a mono take's own power (the same numbers)."""
    return power[0] if power.shape[0] == 1 else power.mean(axis=0)


def _context(stft: _Stft, f0: int, f1: int, half: int) -> tuple[int, int]:
    return max(f0 - half, 0), min(f1 + half, stft.n_frames)


#: The default smoothing's time kernel (50 ms at a hop of 10-12 ms: 5 frames).
_KERNEL_5 = (0.08333333333333337, 0.25, 0.3333333333333333, 0.25, 0.08333333333333337)
#: :func:`_percentile_to_mean` at the default settings (the 10th percentile, 50 ms), by
#: ``(n_fft, hop)``: 16 and 22.05 kHz, 44.1 and 48 kHz, 96 kHz. Its 2 ** 17 draws cost
#: 0.07-0.25 s of a 3-minute mix; ``tests/unit/test_speed_paths.py`` recomputes them.
_KNOWN_RATIOS = {(1024, 256, _KERNEL_5, 10.0): 0.4460039385494838,
                 (2048, 512, _KERNEL_5, 10.0): 0.44600393856138654,
                 (4096, 1024, _KERNEL_5, 10.0): 0.4460039385621426}


def _percentile_to_mean(n_fft: int, hop: int, kernel: tuple[float, ...],
                        percentile: float) -> float:
    """:func:`_percentile_to_mean_drawn`, from :data:`_KNOWN_RATIOS` where it is there."""
    known = _KNOWN_RATIOS.get((n_fft, hop, tuple(kernel), float(percentile)))
    return known if known is not None else _percentile_to_mean_drawn(n_fft, hop, kernel,
                                                                      percentile)


@lru_cache(maxsize=32)
def _percentile_to_mean_drawn(n_fft: int, hop: int, kernel: tuple[float, ...],
                              percentile: float) -> float:
    """Ratio of the ``percentile``-th percentile of the smoothed power of Gaussian noise to
    its mean, for this STFT and smoothing (a mid-band bin).

    The smoothed power is ``sum_i a_i |X_i|^2`` over the kernel's frames and bins, and each
    ``X_i`` is a linear form ``v_i . x`` of the noise samples, so it is the quadratic form
    ``x' Re(V^H A V) x``. Its nonzero eigenvalues ``mu`` are those of ``B B'``, where ``B``
    stacks the real and imaginary parts of the rows ``sqrt(a_i) v_i``. The form is then
    ``sum_j mu_j g_j^2`` with independent standard normal ``g_j`` (a generalised chi-square;
    Imhof 1961). Its percentile is taken from 2 ** 17 draws with a fixed seed: deterministic,
    and within about 0.1 dB."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    f_half = len(_FREQ_KERNEL) // 2
    k = n_fft // 8 + 1
    n = np.arange(n_fft)
    rows = []
    for d, kt in enumerate(kernel):
        for m, kf in enumerate(_FREQ_KERNEL):
            v = np.zeros((len(kernel) - 1) * hop + n_fft, dtype=complex)
            v[d * hop:d * hop + n_fft] = (math.sqrt(kt * kf) * w
                                          * np.exp(-2j * np.pi * (k + m - f_half) * n / n_fft))
            rows.append(v)
    b = np.vstack([np.real(rows), np.imag(rows)])
    mu = np.linalg.eigvalsh(b @ b.T)
    mu = mu[mu > 1e-12 * mu.max()]
    draws = np.random.default_rng(20261125).standard_normal((1 << 17, mu.size)) ** 2 @ mu
    return float(np.percentile(draws, percentile) / mu.sum())


def _prepare(audio: NDArray, sample_rate: float) -> NDArray[np.float32]:
    x = validate_audio(audio)
    if not (isinstance(sample_rate, (int, float)) and math.isfinite(sample_rate)
            and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    return x


def _too_short(x: NDArray, sample_rate: float) -> dict | None:
    n_fft = stft_size(sample_rate)
    if x.shape[1] < n_fft:
        return {"applied": False,
                "reason": f"shorter than one STFT frame ({x.shape[1]} < {n_fft} samples)"}
    return None


def _db(ratio: float) -> float:
    return 10.0 * math.log10(ratio) if ratio > 0 else -math.inf


# ---------------------------------------------------------------------------------------------
# Noise reduction


def _noise_psd(x: NDArray[np.float32], stft: _Stft, settings: NoiseReduction,
               kernel: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean noise power per bin (the units of ``|rfft(window * x)|^2``): the channels' mean
    of each one's bias-corrected low percentile over (subsampled) smoothed frames."""
    half = len(kernel) // 2
    stride = max(1, math.ceil(stft.n_frames / MAX_NOISE_FRAMES))
    kept = []
    for f0, f1 in stft.blocks():
        sel = np.arange(-(-f0 // stride) * stride, f1, stride) - f0
        if sel.size == 0:
            continue
        c0, c1 = _context(stft, f0, f1, half)
        spec = stft.spectra(x, c0, c1)
        power = spec.real ** 2 + spec.imag ** 2
        kept.append(_smoothed(power, c0, f0, f1, c1, kernel, rows=sel))
    summary = np.concatenate(kept, axis=1)
    low = np.percentile(summary, settings.noise_percentile, axis=1).astype(np.float64)
    ratio = _percentile_to_mean(stft.n_fft, stft.hop, tuple(float(k) for k in kernel),
                                float(settings.noise_percentile))
    return low.mean(axis=0) / ratio


def _band_dbfs(psd: NDArray[np.float64], stft: _Stft, sel: NDArray[np.bool_]) -> float:
    """RMS level (``20 log10 rms``) of noise with power ``psd`` in the bins ``sel``
    (Parseval: one-sided bins count twice, DC and Nyquist once)."""
    twice = np.full(psd.shape, 2.0)
    twice[0] = 1.0
    if stft.n_fft % 2 == 0:
        twice[-1] = 1.0
    energy = float(np.sum(stft.window.astype(np.float64) ** 2))
    return _db(float(np.sum((psd * twice)[sel])) / (stft.n_fft * energy))


class _Denoiser:
    """One take's noise estimate (a pass over the take) and the Wiener gains of its blocks,
    with the sums behind the report."""

    def __init__(self, x: NDArray[np.float32], stft: _Stft, settings: NoiseReduction):
        self.x, self.stft = x, stft
        self.kernel = _time_kernel(settings.smoothing_ms, stft.hop_s)
        self.half = len(self.kernel) // 2
        self.noise = _noise_psd(x, stft, settings, self.kernel)
        self.noisy = self.noise > 0
        self.scaled = (10.0 ** (settings.over_subtraction_db / 10.0) * self.noise
                       ).astype(np.float32)
        self.floor = np.float32(10.0 ** (-settings.max_reduction_db / 20.0))
        self.noise_total = float(self.noise.sum())
        self.sums = {"rest_in": 0.0, "rest_out": 0.0, "active": 0.0}
        self.counts = {"rest": 0, "active": 0}

    def block(self, f0: int, f1: int, tally: bool
              ) -> tuple[NDArray[np.complex64], NDArray[np.float32] | None, NDArray]:
        """Spectra ``(channels, frames, bins)`` of frames ``f0..f1``, their gains
        ``(frames, bins)`` (``None``: all 1) and channel-mean power; ``tally`` adds the block
        to the report's sums."""
        if not self.noisy.any():
            spec = self.stft.spectra(self.x, f0, f1)
            return spec, None, _channel_mean(spec.real ** 2 + spec.imag ** 2)
        c0, c1 = _context(self.stft, f0, f1, self.half)
        spec = self.stft.spectra(self.x, c0, c1)
        power = _channel_mean(spec.real ** 2 + spec.imag ** 2)
        smooth = _smoothed(power, c0, f0, f1, c1, self.kernel)
        spec, power = spec[:, f0 - c0:f1 - c0], power[f0 - c0:f1 - c0]
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = 1.0 - np.where(smooth > 0, self.scaled / smooth, np.inf)
        gain = np.clip(gain, self.floor, np.float32(1.0)).astype(np.float32)
        gain[:, ~self.noisy] = 1.0
        if tally:
            rest = smooth.sum(axis=1) <= 2.0 * self.noise_total
            frame_power = power.sum(axis=1, dtype=np.float64)
            self.counts["rest"] += int(rest.sum())
            self.counts["active"] += int((~rest).sum())
            self.sums["rest_in"] += float(frame_power[rest].sum())
            self.sums["rest_out"] += float((gain[rest] ** 2 * power[rest]).sum(dtype=np.float64))
            self.sums["active"] += float(frame_power[~rest].sum())
        return spec, gain, power

    def report(self) -> dict:
        stft, noise = self.stft, self.noise
        octaves = {}
        for fc in _OCTAVES_HZ:
            sel = (stft.freqs_hz >= fc / math.sqrt(2)) & (stft.freqs_hz < fc * math.sqrt(2))
            if sel.any():
                octaves[f"{fc:g}"] = _band_dbfs(noise, stft, sel)
        out: dict[str, Any] = {
            "applied": True,
            "noise_floor_dbfs": _band_dbfs(noise, stft, np.ones(noise.shape, dtype=bool)),
            "noise_octaves_dbfs": octaves,
            "snr_db": math.inf, "rest_share": 0.0, "rest_reduction_db": 0.0,
            "stft": {"n_fft": stft.n_fft, "hop": stft.hop},
        }
        if not self.noisy.any():
            return out
        s, c = self.sums, self.counts
        out["rest_share"] = c["rest"] / stft.n_frames
        out["rest_reduction_db"] = (_db(s["rest_in"] / s["rest_out"]) if s["rest_out"] > 0
                                    else (0.0 if s["rest_in"] == 0 else math.inf))
        signal = s["active"] / c["active"] - self.noise_total if c["active"] else 0.0
        out["snr_db"] = _db(signal / self.noise_total) if signal > 0 else -math.inf
        return out


def _synthesise(x: NDArray[np.float32], stft: _Stft, block) -> NDArray[np.float32]:
    """``x`` minus the ISTFT of ``(1 - gain) * spectra`` over the blocks, where ``block(f0, f1)``
    gives ``(spectra, gain)`` or ``None`` (gain 1); blocks with unit gain are skipped."""
    y = x.copy()
    for f0, f1 in stft.blocks():
        got = block(f0, f1)
        if got is None or got[1] is None or not (got[1] < 1.0).any():
            continue
        spec, gain = got
        stft.subtract(y, spec * (1.0 - gain), f0)
    return y


def denoise(audio: NDArray, sample_rate: float, settings: NoiseReduction | None = None
            ) -> tuple[NDArray[np.float32], dict]:
    """Stationary noise reduction of a vocal take (see the module docstring).

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)]
        Floating-point samples, finite.
    sample_rate : float
        Hz.
    settings : NoiseReduction, optional
        Defaults to ``NoiseReduction()``.

    Returns
    -------
    y : np.ndarray [shape=(channels, samples), dtype=float32]
        The cleaned take, aligned with the input.
    report : dict
        ``applied``, ``noise_floor_dbfs``, ``noise_octaves_dbfs``, ``snr_db``,
        ``rest_share``, ``rest_reduction_db``, ``stft`` (or ``applied: False`` and a
        ``reason``).
    """
    return _clean(audio, sample_rate, NoiseReduction() if settings is None else settings,
                  None, "noise_reduction")


# ---------------------------------------------------------------------------------------------
# De-esser


def _deesser_gains(full: NDArray[np.float64], high: NDArray[np.float64], settings: DeEsser,
                   hop_s: float) -> tuple[NDArray[np.float64], NDArray[np.bool_], float]:
    """Per-frame reduction (dB, >= 0) from the frames' full- and high-band powers; the
    sibilant frames; the take's loud level (dB, frame power)."""
    n = full.size
    reduction = np.zeros(n)
    positive = full > 0
    if not positive.any() or settings.max_reduction_db == 0:
        return reduction, np.zeros(n, dtype=bool), -math.inf
    full_db = np.full(n, -np.inf)
    full_db[positive] = 10.0 * np.log10(full[positive])
    loud_db = float(np.percentile(full_db[full_db >= full_db.max() - _LOUD_SPAN_DB],
                                  _LOUD_PERCENTILE))
    high_db = np.full(n, -np.inf)
    audible = high > 0
    high_db[audible] = 10.0 * np.log10(high[audible])
    share_db = np.where(audible, high_db - np.where(positive, full_db, 0.0), -np.inf)
    level = high_db - loud_db
    sibilant = audible & (share_db >= settings.high_band_share_db) & (
        level > settings.threshold_db)
    target = np.where(sibilant, np.minimum((level - settings.threshold_db)
                                           * (1.0 - 1.0 / settings.ratio),
                                           settings.max_reduction_db), 0.0)
    a_att = math.exp(-hop_s / (settings.attack_ms / 1000.0)) if settings.attack_ms > 0 else 0.0
    a_rel = (math.exp(-hop_s / (settings.release_ms / 1000.0)) if settings.release_ms > 0
             else 0.0)
    r = 0.0
    for t in range(n):
        a = a_att if target[t] > r else a_rel
        r = a * r + (1.0 - a) * float(target[t])
        if r < _SNAP_DB:
            r = 0.0
        reduction[t] = r
    return reduction, sibilant, loud_db


class _DeEsserPlan:
    """The de-esser's reduction per frame, from one pass over the frames' powers."""

    def __init__(self, stft: _Stft, settings: DeEsser, power_of_block):
        f = stft.freqs_hz
        in_full, in_high = f >= _FULL_BAND_FROM_HZ, f >= settings.frequency_hz
        full, high = np.zeros(stft.n_frames), np.zeros(stft.n_frames)
        for f0, f1 in stft.blocks():
            power = power_of_block(f0, f1)
            full[f0:f1] = power[:, in_full].sum(axis=1, dtype=np.float64)
            high[f0:f1] = power[:, in_high].sum(axis=1, dtype=np.float64)
        self.stft = stft
        self.reduction, self.sibilant, self.loud_db = _deesser_gains(full, high, settings,
                                                                     stft.hop_s)
        lo, hi = settings.frequency_hz * 2 ** (-1 / 6), settings.frequency_hz * 2 ** (1 / 6)
        shape = np.clip((f - lo) / (hi - lo), 0.0, 1.0)
        self.shape = (0.5 - 0.5 * np.cos(np.pi * shape)).astype(np.float32)

    def gain(self, f0: int, f1: int) -> NDArray[np.float32] | None:
        """``(frames, bins)`` gains of frames ``f0..f1``; ``None`` where all are 1."""
        r = self.reduction[f0:f1]
        if not (r > 0).any():
            return None
        return (10.0 ** (-r[:, None] * self.shape[None, :] / 20.0)).astype(np.float32)

    def report(self) -> dict:
        stft, n_sib = self.stft, int(self.sibilant.sum())
        # frame power -> mean square of the windowed frame (Parseval, one-sided bins twice)
        to_dbfs = 10.0 * math.log10(2.0 / (stft.n_fft * float(np.sum(
            stft.window.astype(np.float64) ** 2))))
        return {
            "applied": True,
            "sibilant_frames": n_sib,
            "sibilant_share": n_sib / stft.n_frames,
            "mean_reduction_db": float(self.reduction[self.sibilant].mean()) if n_sib else 0.0,
            "max_reduction_db": float(self.reduction.max()),
            "loud_level_dbfs": self.loud_db + to_dbfs,
            "stft": {"n_fft": stft.n_fft, "hop": stft.hop},
        }


def deess(audio: NDArray, sample_rate: float, settings: DeEsser | None = None
          ) -> tuple[NDArray[np.float32], dict]:
    """Split-band de-essing of a vocal take (see the module docstring).

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)]
        Floating-point samples, finite.
    sample_rate : float
        Hz; ``settings.frequency_hz`` must be below 0.9 times the Nyquist frequency.
    settings : DeEsser, optional
        Defaults to ``DeEsser()``.

    Returns
    -------
    y : np.ndarray [shape=(channels, samples), dtype=float32]
        The de-essed take, aligned with the input; frames with no reduction are unchanged.
    report : dict
        ``applied``, ``sibilant_frames``, ``sibilant_share``, ``mean_reduction_db``,
        ``max_reduction_db``, ``loud_level_dbfs``, ``stft`` (or ``applied: False`` and a
        ``reason``).
    """
    return _clean(audio, sample_rate, None, DeEsser() if settings is None else settings,
                  "deesser")


# ---------------------------------------------------------------------------------------------
# Both


def _clean(audio: NDArray, sample_rate: float, nr: NoiseReduction | None, de: DeEsser | None,
           which: str | None = None):
    """The engine behind the three public functions: ``(y, reports)``, or ``(y, report)`` of
    effect ``which`` alone."""
    x = _prepare(audio, sample_rate)
    if de is not None and de.frequency_hz >= 0.45 * sample_rate:
        raise ValueError(f"de-esser frequency_hz must be below 0.9 x Nyquist "
                         f"({0.45 * sample_rate:g} Hz at {sample_rate:g} Hz), "
                         f"got {de.frequency_hz:g}")
    reports: dict[str, Any] = {"noise_reduction": None, "deesser": None}
    short = _too_short(x, sample_rate)
    if short is not None:
        reports = {k: None if s is None else dict(short)
                   for k, s in (("noise_reduction", nr), ("deesser", de))}
        return (x.copy(), reports[which]) if which else (x.copy(), reports)
    stft = _Stft(sample_rate, x.shape[1])
    if nr is not None and nr.max_reduction_db == 0:
        reports["noise_reduction"] = {"applied": False, "reason": "max_reduction_db is 0"}
        nr = None
    den = _Denoiser(x, stft, nr) if nr is not None else None
    if de is None:
        y = x.copy() if den is None else _synthesise(
            x, stft, lambda f0, f1: den.block(f0, f1, tally=True)[:2])
    elif den is None:
        def power(f0, f1):
            spec = stft.spectra(x, f0, f1)
            return _channel_mean(spec.real ** 2 + spec.imag ** 2)

        plan = _DeEsserPlan(stft, de, power)

        def deessed(f0, f1):
            g_de = plan.gain(f0, f1)
            return None if g_de is None else (stft.spectra(x, f0, f1), g_de)

        y = _synthesise(x, stft, deessed)
        reports["deesser"] = plan.report()
    else:
        # the de-esser listens to the denoised spectra (gain times spectrum) of the same
        # frames. The correction (1 - g_nr g_de) S is (1 - g_nr) S + g_nr (1 - g_de) S:
        # the noise reduction's part is subtracted in the pass the de-esser listens in, its
        # own part afterwards, on the blocks it reduces only (a second look at those)
        y = x.copy()

        def denoised_power(f0, f1):
            spec, gain, power = den.block(f0, f1, tally=True)
            if gain is None:
                return power
            if (gain < 1.0).any():
                stft.subtract(y, spec * (1.0 - gain), f0)
            return gain ** 2 * power

        plan = _DeEsserPlan(stft, de, denoised_power)
        for f0, f1 in stft.blocks():
            g_de = plan.gain(f0, f1)
            if g_de is None:
                continue
            spec, g_nr, _ = den.block(f0, f1, tally=False)
            stft.subtract(y, spec * (1.0 - g_de if g_nr is None else g_nr * (1.0 - g_de)), f0)
        reports["deesser"] = plan.report()
    if den is not None:
        reports["noise_reduction"] = den.report()
    return (y, reports[which]) if which else (y, reports)


def apply_cleanup(audio: NDArray, sample_rate: float, cleanup: Cleanup
                  ) -> tuple[NDArray[np.float32], dict]:
    """Noise reduction, then de-essing, as ``cleanup`` says (``None``: that effect is off).

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)]
        Floating-point samples, finite.
    sample_rate : float
        Hz.
    cleanup : Cleanup

    Returns
    -------
    y : np.ndarray [shape=(channels, samples), dtype=float32]
        Aligned with the input.
    report : dict
        ``{"noise_reduction": report | None, "deesser": report | None}``, the reports of
        :func:`denoise` and :func:`deess`.

    Notes
    -----
    With both effects on, the de-esser's detector reads the denoised spectra (the noise
    gains times the input's spectra) and the two gains multiply: the correction
    ``(1 - g_nr g_de) S`` is subtracted as ``(1 - g_nr) S`` in the pass the detector
    listens in, then ``g_nr (1 - g_de) S`` on the blocks the de-esser reduces. Two passes
    over the take (the noise estimate's, the detector's), the de-essed blocks once more,
    and one output array, instead of ``deess(denoise(x))``'s four passes and an
    intermediate array. The two differ only by the STFT's inconsistency (a modified
    spectrogram is not exactly the spectrogram of its inverse).
    """
    if not isinstance(cleanup, Cleanup):
        raise TypeError(f"cleanup must be a Cleanup, got {type(cleanup).__name__}")
    return _clean(audio, sample_rate, cleanup.noise_reduction, cleanup.deesser)
