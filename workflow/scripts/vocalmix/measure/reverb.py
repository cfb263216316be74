"""Acoustic descriptors of an impulse response, after ISO 3382-1.

* Onset: the first sample within 20 dB of the response's maximum; the direct sound is the
  strongest sample in the 2.5 ms that follow (time zero for C50, C80 and the pre-delay).
* Octave bands 125 Hz - 8 kHz: third-order Butterworth band-passes applied to the
  *time-reversed* response (so the filter's own ringing does not bias short decays).
* Truncation and noise: an iterative Lundeby-style search finds where the decay meets the
  noise floor; Schroeder's backward integral runs from there, plus the energy of the
  decay's exponential continuation beyond it (so the tail is not cut short).
* T20 / T30: least-squares fits of the energy-decay curve between -5 and -25 / -35 dB,
  extrapolated to 60 dB. T30 is used where the band's dynamic range (peak energy over noise)
  reaches 45 dB, T20 where it reaches 35 dB; otherwise T10 is reported with quality flag
  ``low_dynamic_range``.
* EDT: the 0 to -10 dB fit, times six.
* C50, C80: early (0-50 / 0-80 ms after the direct sound) to late energy, broadband.
* DRR: energy within +/-2.5 ms of the direct sound over everything after it.
* Pre-delay: from the direct sound to the onset of the reverberation, the first time after
  the direct window where the 1 ms envelope comes within 15 dB of the reverberation's
  strongest point.

``t60_mid_s`` is the mean of the 500 Hz, 1 kHz and 2 kHz bands (the "mid-band" T60).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

__all__ = ["OCTAVE_BANDS_HZ", "MID_BANDS_HZ", "Descriptors", "analyse_ir", "analyse_binned",
           "binned_power", "bin_factor", "energy_decay_curve", "decay_time", "band_filter",
           "binned_band_power"]

OCTAVE_BANDS_HZ = (125, 250, 500, 1000, 2000, 4000, 8000)
MID_BANDS_HZ = (500, 1000, 2000)
DIRECT_WINDOW_S = 0.0025
PREROLL_S = 0.05


@dataclass
class Descriptors:
    """Reverberation descriptors (seconds, dB, milliseconds as named)."""

    t60_s: dict[int, float | None]
    t60_method: dict[int, str]
    quality: dict[int, str]
    dynamic_range_db: dict[int, float]
    edt_s: float | None
    c50_db: float | None
    c80_db: float | None
    drr_db: float | None
    predelay_ms: float | None
    sample_rate: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def t60_mid_s(self) -> float | None:
        vals = [self.t60_s.get(b) for b in MID_BANDS_HZ]
        vals = [v for v in vals if v is not None and math.isfinite(v)]
        return float(np.mean(vals)) if vals else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["t60_s"] = {str(k): v for k, v in self.t60_s.items()}
        d["t60_method"] = {str(k): v for k, v in self.t60_method.items()}
        d["quality"] = {str(k): v for k, v in self.quality.items()}
        d["dynamic_range_db"] = {str(k): v for k, v in self.dynamic_range_db.items()}
        d["t60_mid_s"] = self.t60_mid_s
        d.pop("extra", None)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Descriptors":
        def keys(m):
            return {int(k): v for k, v in (m or {}).items()}

        return cls(t60_s=keys(d["t60_s"]), t60_method=keys(d.get("t60_method")),
                   quality=keys(d.get("quality")), dynamic_range_db=keys(d.get("dynamic_range_db")),
                   edt_s=d.get("edt_s"), c50_db=d.get("c50_db"), c80_db=d.get("c80_db"),
                   drr_db=d.get("drr_db"), predelay_ms=d.get("predelay_ms"),
                   sample_rate=d.get("sample_rate", 0.0))


@lru_cache(maxsize=64)
def _band_sos(band: int, sample_rate: float) -> NDArray:
    """Third-order Butterworth octave band-pass around ``band`` Hz (upper edge capped below
    Nyquist), designed without ``scipy.signal`` (its import costs 0.5-0.9 s)."""
    from vocalmix.kernels import butter_bandpass_sos

    lo, hi = band / math.sqrt(2), band * math.sqrt(2)
    hi = min(hi, 0.49 * sample_rate)
    return butter_bandpass_sos(3, lo, hi, sample_rate)


def band_filter(h: NDArray, band: int, sample_rate: float) -> NDArray:
    """Octave-band response, filtered on the time-reversed signal (ISO 3382 practice)."""
    from vocalmix.kernels import sosfilt

    return sosfilt(_band_sos(band, float(sample_rate)), h[..., ::-1])[..., ::-1]


def binned_band_power(h: NDArray, bands: list[int], sample_rate: float, k: int) -> NDArray:
    """Energies of the octave bands of the 1-D ``h`` in bins of ``k`` samples from its start,
    ``(len(bands), len(h) // k)``: :func:`band_filter` then :func:`binned_power` per band (to
    rounding), filtered in place in one buffer (the reverb fit does this for every
    candidate it renders)."""
    from vocalmix.kernels import sosfilt_kernel

    kernel = sosfilt_kernel()
    n = h.size
    nb = n // k
    y = np.empty((len(bands), n))
    y[:] = h[::-1]
    for i, band in enumerate(bands):
        sos = _band_sos(band, float(sample_rate))
        kernel(sos, y[i: i + 1], np.zeros((1, sos.shape[0], 2)))
    np.square(y, out=y)
    # the buffer is time-reversed: its last nb * k samples are the first bins, last first
    return y[:, n - nb * k:].reshape(len(bands), nb, k).sum(axis=2)[:, ::-1]


def _smooth_db(power: NDArray, win: int) -> tuple[NDArray, int]:
    """Mean power in consecutive windows of ``win`` samples, in dB."""
    n = power.size // win
    if n == 0:
        return np.array([10 * math.log10(max(power.mean(), 1e-300))]), win
    blocks = power[: n * win].reshape(n, win).mean(axis=1)
    return 10 * np.log10(np.maximum(blocks, 1e-300)), win


def _truncation(power: NDArray, sample_rate: float, start: int) -> tuple[int, float, float]:
    """Lundeby-style crossover: (index where the decay meets the noise, noise power, decay
    slope in dB/s), searching after the direct sound at ``start``.

    The decay is regressed on 10 ms levels from the onset of the reverberation (the first
    window within 10 dB of the loudest, which skips any pre-delay gap) down to 10 dB above
    the noise; the noise is re-estimated beyond the crossover; three to five iterations.
    """
    skip = start + int(DIRECT_WINDOW_S * sample_rate) + 1
    p = power[skip:]
    n = p.size
    win = max(1, int(0.01 * sample_rate))
    if n < 5 * win:
        return start + n, 0.0, 0.0
    lvl, win = _smooth_db(p, win)
    t = (np.arange(lvl.size) + 0.5) * win / sample_rate
    noise = float(np.mean(p[int(0.9 * n):]))
    noise_db = 10 * math.log10(max(noise, 1e-300))
    head = lvl[: max(2, lvl.size // 2)]
    i0 = int(np.flatnonzero(head >= head.max() - 10.0)[0])
    cross = n
    slope = 0.0
    for _ in range(5):
        below = np.flatnonzero(lvl[i0:] < noise_db + 10.0)
        stop = i0 + (int(below[0]) if below.size else lvl.size - i0)
        if stop - i0 < 3:
            break
        tt, yy = t[i0:stop], lvl[i0:stop]
        slope = _slope(tt, yy)
        if slope >= 0:
            slope = 0.0
            break
        intercept = yy.mean() - slope * tt.mean()
        new_cross = int(min(n, max(win, (noise_db - intercept) / slope * sample_rate)))
        guard = int(new_cross + (-10.0 / slope) * sample_rate)  # 10 dB of decay further on
        if guard < n - win:
            noise = float(np.mean(p[guard:]))
            noise_db = 10 * math.log10(max(noise, 1e-300))
        converged = abs(new_cross - cross) < win
        cross = new_cross
        if converged:
            break
    return skip + cross, noise, slope


def _slope(t: NDArray, y: NDArray) -> float:
    """Least-squares slope of y over t (closed form; the centred abscissae sum to zero, so
    ``y`` need not be centred). Products are summed by numpy, not BLAS: a threaded BLAS
    dot product on a loaded machine stalls for milliseconds."""
    tc = t - t.mean()
    den = float(np.sum(tc * tc))
    return float(np.sum(tc * y)) / den if den > 0 else 0.0


EDC_RATE = 4000.0  # Hz: descriptors are computed from energy summed into ~0.25 ms bins


def bin_factor(sample_rate: float) -> int:
    """Samples per energy bin (about 0.25 ms; 11 at 44.1 kHz, 12 at 48 kHz)."""
    return max(1, int(round(sample_rate / EDC_RATE)))


def binned_power(x: NDArray, k: int, origin: int = 0) -> NDArray:
    """Energy of ``x`` (channel mean) summed into bins of ``k`` samples from ``origin``."""
    power = np.square(np.asarray(x, dtype=np.float64))
    if power.ndim == 2:
        power = power.mean(axis=0)
    nb = (power.size - origin) // k
    return power[origin: origin + nb * k].reshape(nb, k).sum(axis=1)


def _edc_bins(bins: NDArray, rate: float, start: int, pre: int = 0,
              truncation: tuple[int, float, float] | None = None) -> tuple[NDArray, float]:
    """EDC (dB re its value at bin ``start - pre``) and dynamic range (dB) from energy bins,
    with Lundeby truncation (``truncation``: :func:`_truncation`'s result where the caller
    has it already) and the exponential tail's energy added past it."""
    end, noise, slope = truncation or _truncation(bins, rate, start)
    first = max(0, start - pre)
    p = bins[first:end]
    if p.size == 0 or not np.any(p > 0):
        return np.full(1, -np.inf), 0.0
    tail = 0.0
    if slope < 0:  # energy of the exponential continuation past the truncation point
        tau = 10.0 / (-slope * math.log(10.0))  # power e-folding time (s)
        win = max(1, int(0.005 * rate))
        tail = float(np.mean(p[-win:])) * tau * rate
    e = np.cumsum(p[::-1])[::-1] + tail
    win = max(1, int(0.01 * rate))
    near = bins[max(0, start - 5 * win): start + 5 * win]
    peak_db = _smooth_db(near, win)[0].max() if near.size else -300.0
    dyn = peak_db - 10 * math.log10(noise) if noise > 0 else 120.0
    with np.errstate(divide="ignore"):
        return 10 * np.log10(e / e[0]), float(dyn)


def energy_decay_curve(h: NDArray, sample_rate: float, start: int,
                       pre: int = 0) -> tuple[NDArray, float]:
    """Schroeder backward integral of ``h`` from sample ``start - pre`` (dB), sampled at
    :data:`EDC_RATE`, with Lundeby truncation and tail compensation; and the dynamic range
    (dB: the loudest 10 ms level near the direct sound over the noise)."""
    k = bin_factor(sample_rate)
    origin = start % k
    bins = binned_power(h, k, origin)
    return _edc_bins(bins, sample_rate / k, (start - origin) // k, int(round(pre / k)))


def decay_time(edc_db: NDArray, rate: float, top: float, bottom: float) -> float | None:
    """Reverberation time from a linear fit of the EDC (sampled at ``rate``) between ``top``
    and ``bottom`` dB, extrapolated to 60 dB.

    An EDC never rises, so the samples within the range are one run, found by bisection
    (this runs 22 times per analysis, and the reverb fit analyses every candidate).
    """
    if edc_db.size == 0 or edc_db[-1] > bottom:
        return None
    falling = -edc_db
    i0 = int(np.searchsorted(falling, -top, side="left"))  # first sample <= top
    i1 = int(np.searchsorted(falling, -bottom, side="right"))  # first sample < bottom
    m = i1 - i0
    if m < 3:
        # a drop faster than the sampling of the curve (e.g. a strong direct sound for EDT):
        # the time of the first crossing of ``bottom`` instead of a fit
        return float(60.0 / (top - bottom) * max(i1, 1) / rate)
    # least-squares slope over equally spaced samples, in closed form (summed by numpy: see
    # _slope)
    j = np.arange(m) - 0.5 * (m - 1)
    slope = float(np.sum(j * edc_db[i0:i1])) * rate / (m * (m * m - 1) / 12.0)
    return float(-60.0 / slope) if slope < 0 else None


def _direct(h: NDArray, sample_rate: float) -> int:
    env = np.abs(h) if h.ndim == 1 else np.max(np.abs(h), axis=0)
    peak = float(env.max())
    if peak <= 0:
        raise ValueError("the impulse response is all zeros")
    onset = int(np.flatnonzero(env >= peak * 0.1)[0])
    w = max(1, int(DIRECT_WINDOW_S * sample_rate))
    return onset + int(np.argmax(env[onset: onset + w]))


def analyse_ir(h: NDArray, sample_rate: float) -> Descriptors:
    """All descriptors of an impulse response.

    Parameters
    ----------
    h : np.ndarray [shape=(samples,) or (channels, samples)]
        Multichannel responses are analysed on their mean energy (descriptors averaged
        over channels in the energy domain).
    sample_rate : float
    """
    h = np.atleast_2d(np.asarray(h, dtype=np.float64))
    if h.shape[0] > h.shape[1]:
        raise ValueError(f"impulse response shape {h.shape}: expected (channels, samples)")
    # the band filters run time-reversed and spread the direct sound's energy up to ~50 ms
    # earlier: give every response that much pre-roll so nothing falls off the start
    direct = _direct(h, sample_rate)
    pad = preroll_samples(sample_rate) - direct
    if pad > 0:
        h = np.pad(h, ((0, 0), (pad, 0)))
        direct += pad
    # bins start at the direct sound; each band is binned as soon as it is filtered (a
    # long multichannel response's seven filtered copies would be tens of MB at once)
    k = bin_factor(sample_rate)
    origin = direct % k
    bands = {b: binned_power(band_filter(h, b, sample_rate), k, origin)
             for b in bands_below_nyquist(sample_rate)}
    return analyse_binned(binned_power(h, k, origin), bands, sample_rate / k,
                          (direct - origin) // k, sample_rate=sample_rate)


def preroll_samples(sample_rate: float) -> int:
    """Pre-roll (50 ms) kept before the direct sound for the time-reversed band filters."""
    return int(PREROLL_S * sample_rate)


def bands_below_nyquist(sample_rate: float) -> list[int]:
    return [b for b in OCTAVE_BANDS_HZ if b * math.sqrt(2) <= 0.5 * sample_rate * 1.02]


def analyse_binned(broadband: NDArray, bands: dict[int, NDArray], rate: float, d0: int,
                   sample_rate: float) -> Descriptors:
    """Descriptors from energy bins (``rate`` bins per second; the direct sound starts bin
    ``d0``). Band filtering and binning are linear, so a caller that builds responses from
    parts (the fitter: a direct impulse plus a delayed, scaled return) can add binned band
    energies of the parts instead of filtering again."""
    t60, method, quality, dyn = {}, {}, {}, {}
    for band in OCTAVE_BANDS_HZ:
        if band not in bands:
            t60[band], method[band], quality[band], dyn[band] = None, "none", "above_nyquist", 0.0
            continue
        # time-reversed filtering moves the band's direct energy up to ~2 periods earlier
        edc, dr = _edc_bins(bands[band], rate, d0, pre=int(round(2.0 / band * rate)))
        dyn[band] = dr
        t30 = decay_time(edc, rate, -5.0, -35.0)
        t20 = decay_time(edc, rate, -5.0, -25.0)
        t10 = decay_time(edc, rate, -5.0, -15.0)
        if t30 is not None and dr >= 45.0:
            t60[band], method[band], quality[band] = t30, "T30", "ok"
        elif t20 is not None and dr >= 35.0:
            t60[band], method[band], quality[band] = t20, "T20", "ok"
        else:
            t60[band] = t20 if t20 is not None else t10
            method[band] = "T20" if t20 is not None else ("T10" if t10 is not None else "none")
            quality[band] = "low_dynamic_range"
    cut = _truncation(broadband, rate, d0)
    edc_b, _ = _edc_bins(broadband, rate, d0, truncation=cut)
    edt = decay_time(edc_b, rate, 0.0, -10.0)
    end = cut[0]
    w = max(1, int(round(DIRECT_WINDOW_S * rate)))
    cum = np.concatenate([[0.0], np.cumsum(broadband[:end])])

    def energy(a: int, b: int) -> float:
        a, b = max(0, min(a, end)), max(0, min(b, end))
        return float(cum[b] - cum[a]) if b > a else 0.0

    direct = energy(d0 - w, d0 + w)
    late_all = energy(d0 + w, end)

    def clarity(ms: float) -> float | None:
        kk = d0 + int(round(ms / 1000 * rate))
        early, late = energy(d0 - w, kk), energy(kk, end)
        return 10 * math.log10(early / late) if late > 0 and early > 0 else None

    drr = 10 * math.log10(direct / late_all) if late_all > 0 and direct > 0 else None
    # pre-delay: first time after the direct window within 15 dB of the reverb's maximum
    win = max(1, int(round(0.001 * rate)))
    after = broadband[d0 + w: end]
    predelay = None
    if after.size > win:
        env = np.convolve(after, np.ones(win) / win, mode="same")
        ref = float(env.max())
        if ref > 0:
            first = int(np.flatnonzero(env >= ref * 10 ** (-15 / 10))[0])
            predelay = 1000.0 * (first + w) / rate
    return Descriptors(t60_s=t60, t60_method=method, quality=quality, dynamic_range_db=dyn,
                       edt_s=edt, c50_db=clarity(50.0), c80_db=clarity(80.0), drr_db=drr,
                       predelay_ms=predelay, sample_rate=float(sample_rate),
                       extra={"direct_bin": d0, "truncation_bin": end, "bin_rate": rate})
