"""Decision helpers shared by the mixing systems: pitch correction to the backing's key,
compression to a target loudness range, the reverb for a target decay, the gain for a
target level, the vocal high-pass.

Every system decides *what* to aim for (a genre table, a trained model, a preset); these
find the settings of the shared chain that get there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from vocalmix.measure import loudness
from vocalmix.dsp.cleanup import Cleanup, DeEsser, NoiseReduction
from vocalmix.dsp.effects import CompressorSettings, EQBand, apply_compressor, eq_response_db
from vocalmix.dsp.recipe import PitchCorrection
from vocalmix.dsp.reverb import RANGES, expected_t60, room_size_for_t60

__all__ = ["PHONE_TAKE_CLEANUP", "prepare_vocal", "SearchedCompressor", "VOCAL_COMPRESSOR",
           "correct_to_key", "search_threshold", "compress_to_range", "CompressedVocal",
           "room_for_t60", "return_level_db", "gain_for", "gain_on_meter", "vocal_highpass_hz",
           "eq_from_curve",
           "loudest_window", "ToneSettings", "tonal_eq", "filtered_balance_db", "match_drr",
           "RangeMeter"]


@dataclass(frozen=True)
class SearchedCompressor:
    """A compressor whose threshold a system searches: everything but the threshold.

    ratio : 1 to 50; attack_ms : 0.1 to 500; release_ms : 1 to 5000.
    """

    ratio: float
    attack_ms: float
    release_ms: float

    def at(self, threshold_db: float | None) -> CompressorSettings | None:
        """The compressor at ``threshold_db`` (dBFS); None (no compression) for None."""
        if threshold_db is None:
            return None
        return CompressorSettings(threshold_db, self.ratio, self.attack_ms, self.release_ms)


#: The vocal compressor of the systems that search its threshold: ratio 4:1, attack
#: 7.5 ms, release 400 ms (the vocal settings of FxNorm's compression normalisation).
VOCAL_COMPRESSOR = SearchedCompressor(ratio=4.0, attack_ms=7.5, release_ms=400.0)


def correct_to_key(vocal: NDArray, backing: NDArray, sample_rate: int, *, strength: float,
                   retune_ms: float) -> tuple[PitchCorrection, NDArray[np.float32], dict, dict]:
    """Pitch-correct ``vocal`` to the key of ``backing``.

    Returns
    -------
    correction : PitchCorrection
        The recipe's pitch-correction step (key and mode detected from the backing).
    corrected : ndarray
        The corrected vocal, ``(channels, samples)`` float32.
    report : dict
        :func:`vocalmix.dsp.pitch.correct_pitch`'s report.
    key : dict
        The detected key: ``key``, ``mode``, ``confidence``.
    """
    from vocalmix.measure.key import detect_key
    from vocalmix.dsp.pitch import correct_pitch

    key = detect_key(backing, sample_rate)
    pc = PitchCorrection(key=key.key, mode=key.mode, strength=strength, retune_ms=retune_ms)
    corrected, report = correct_pitch(vocal, sample_rate, pc)
    return pc, corrected, report, {"key": key.key, "mode": key.mode,
                                   "confidence": key.confidence}


#: The cleanup ``vocalmix mix`` applies to a take by default (``--cleanup``) and the pipeline's
#: systems to raw takes (``render.cleanup``): noise reduction and de-esser at their defaults.
PHONE_TAKE_CLEANUP = Cleanup(noise_reduction=NoiseReduction(), deesser=DeEsser())


def prepare_vocal(vocal: NDArray, backing: NDArray, sample_rate: int, context, *,
                  strength: float = 1.0, retune_ms: float = 40.0
                  ) -> tuple[NDArray[np.float32], PitchCorrection | None, NDArray | None, dict]:
    """The vocal every system analyses: cleaned up (``context.cleanup``), then pitch-corrected
    to the backing's key (``context.pitch_correct``).

    Returns (the prepared vocal, the recipe's pitch correction or None, the prepared vocal
    again where the recipe cleans up or corrects -- :attr:`MixChoice.pitch_corrected` --
    else None, what was done for the recipe's analysis).
    """
    x = np.atleast_2d(np.asarray(vocal, dtype=np.float32))
    info: dict = {}
    if context.cleanup is not None:
        from vocalmix.dsp.cleanup import apply_cleanup

        x, info["cleanup"] = apply_cleanup(x, sample_rate, context.cleanup)
    pc = None
    if context.pitch_correct:
        pc, x, info["pitch_correction"], info["key"] = correct_to_key(
            x, backing, sample_rate, strength=strength, retune_ms=retune_ms)
    prepared = x if (context.cleanup is not None or pc is not None) else None
    return x, pc, prepared, info


def loudest_window(audio: NDArray, sample_rate: int, length_s: float) -> slice:
    """The window of ``length_s`` where ``audio`` is loudest (mean square over 0.5-s steps);
    the whole signal when it is no longer than 1.5 ``length_s``.

    An analysis that only needs a statistic of a signal (a tempo) runs on it instead of the
    whole song, so its cost stops growing with the song's length.
    """
    x = np.atleast_2d(np.asarray(audio))
    n = x.shape[1]
    width = int(round(length_s * sample_rate))
    if n <= 1.5 * width or width <= 0:
        return slice(0, n)
    step = max(1, int(round(0.5 * sample_rate)))
    steps = n // step
    energy = np.zeros(steps)
    for channel in x:  # float32 sums of each step: no whole-song float64 copy
        frames = channel[: steps * step].reshape(steps, step)
        energy += np.einsum("ij,ij->i", frames, frames)
    k = max(1, width // step)
    c = np.concatenate([[0.0], np.cumsum(energy)])
    start = int(np.argmax(c[k:] - c[:-k])) * step
    return slice(start, start + width)


# the pitch track behind the high-pass cutoff: the take decimated by an integer factor to
# 8-16 kHz (no resampling filter design, no scipy.signal) and 40-ms hops instead of the
# tracker's 16 kHz and 10 ms (a percentile needs no more); tests/unit/test_speed_paths.py
# checks the cutoff against the full-resolution track
HIGHPASS_TRACK = {"min_rate_hz": 8000, "hop_s": 0.04}


def vocal_highpass_hz(vocal: NDArray, sample_rate: int, *,
                      track_settings: dict[str, float] | None = None) -> float:
    """0.7 x the singer's low pitch (5th percentile of the voiced f0), within 60-150 Hz.

    Parameters
    ----------
    vocal : np.ndarray [shape=(channels, samples) or (samples,)]
    sample_rate : int
    track_settings : dict, optional
        Keyword arguments of :func:`vocalmix.measure.pitch.track_pitch` (``{}`` for the
        tracker's full resolution); by default a coarse track (:data:`HIGHPASS_TRACK`) of
        the take decimated to the lowest rate of at least 8 kHz an integer factor reaches.

    Returns
    -------
    float
        The cutoff in Hz.
    """
    from vocalmix.kernels import decimate
    from vocalmix.measure.pitch import track_pitch

    x = np.atleast_2d(np.asarray(vocal, dtype=np.float32))
    x = x[0] if x.shape[0] == 1 else x.mean(axis=0)
    if track_settings is not None:
        track = track_pitch(x, sample_rate, **track_settings)
    else:
        factor = max(1, int(sample_rate // HIGHPASS_TRACK["min_rate_hz"]))
        rate = sample_rate / factor
        track = track_pitch(decimate(x, factor), rate, analysis_rate=rate,
                            hop_s=HIGHPASS_TRACK["hop_s"])
    voiced = track.f0_hz[track.voiced]
    low = float(np.percentile(voiced, 5)) if voiced.size else 150.0
    return float(np.clip(0.7 * low, 60.0, 150.0))


class RangeMeter:
    """Loudness range (LU) of ``vocal`` through the compressor at a threshold, each
    threshold measured once (the searches of :func:`compress_to_range` revisit them)."""

    def __init__(self, vocal: NDArray, sample_rate: int, compressor: SearchedCompressor,
                 dry_lra_lu: float | None = None):
        self.vocal, self.sample_rate, self.compressor = vocal, sample_rate, compressor
        self.peak_dbfs = loudness.sample_peak_dbfs(vocal)
        self._lra_lu: dict[float | None, float] = {}
        if dry_lra_lu is not None:
            self._lra_lu[None] = dry_lra_lu

    def __call__(self, threshold_db: float | None) -> float:
        if threshold_db not in self._lra_lu:
            x = (self.vocal if threshold_db is None else
                 apply_compressor(self.vocal, self.sample_rate, self.compressor.at(threshold_db)))
            self._lra_lu[threshold_db] = loudness.loudness_range(x, self.sample_rate)
        return self._lra_lu[threshold_db]


def search_threshold(vocal: NDArray, sample_rate: int, target_lra: float, *,
                     tolerance_lu: float = 0.5, offset_lu: float = 0.0, iterations: int = 14,
                     compressor: SearchedCompressor = VOCAL_COMPRESSOR,
                     meter: RangeMeter | None = None) -> tuple[float | None, float, bool]:
    """Bisection on the compressor threshold (dBFS) for ``LRA(compressed) + offset_lu ==
    target_lra``. Returns (threshold or None for no compression, LRA reached, reachable).

    ``meter`` (of this ``vocal`` and ``compressor``) carries the ranges measured by an
    earlier search of the same vocal."""
    meter = meter if meter is not None else RangeMeter(vocal, sample_rate, compressor)

    def lra_at(th):
        return meter(th) + offset_lu

    top = meter.peak_dbfs
    uncompressed = lra_at(None)
    if not math.isfinite(uncompressed):
        return None, uncompressed, False
    if uncompressed <= target_lra + tolerance_lu:
        return None, uncompressed, uncompressed >= target_lra - tolerance_lu
    lo, hi = -60.0, min(0.0, top)  # threshold: lo = most compression
    lra_lo = lra_at(lo)
    if lra_lo > target_lra:
        return lo, lra_lo, lra_lo <= target_lra + tolerance_lu
    best = (hi, uncompressed)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        lra = lra_at(mid)
        if abs(lra - target_lra) < abs(best[1] - target_lra):
            best = (mid, lra)
        if abs(lra - target_lra) <= 0.25 * tolerance_lu:
            break
        if lra > target_lra:
            hi = mid
        else:
            lo = mid
    return best[0], best[1], abs(best[1] - target_lra) <= tolerance_lu


class CompressedVocal(NamedTuple):
    """What :func:`compress_to_range` found: the threshold (None: no compression), the wet
    vocal's loudness range and whether it is within tolerance of the target, the wet vocal
    (the mix's vocal branch at 0 dB) and its loudness analysis over the measured span (the
    system's level decision reads it instead of analysing the same stem again)."""

    threshold_db: float | None
    lra_lu: float
    reachable: bool
    wet: NDArray
    meter: "loudness.LoudnessResult"


def compress_to_range(vocal: NDArray, sample_rate: int, target_lra: float, reverb, *,
                      tolerance_lu: float = 0.5,
                      compressor: SearchedCompressor = VOCAL_COMPRESSOR,
                      dry_lra_lu: float | None = None, whole: NDArray | None = None,
                      span: slice | None = None, meter: RangeMeter | None = None
                      ) -> CompressedVocal:
    """Compressor threshold for which the *wet* vocal (compressor, then ``reverb``) has the
    target loudness range: searched on the dry vocal, with the reverb's effect on the range
    measured and taken as an offset for a second search when the first misses.

    ``dry_lra_lu`` is the loudness range of ``vocal`` where the caller has measured it.
    ``whole`` and ``span``: ``vocal`` is ``whole[:, span]`` (a take's active span); the wet
    vocal is then rendered from the whole take and measured over the span, and returned
    whole (the mix's vocal branch at 0 dB, which the mix scales instead of rendering it
    again). ``meter``: a :class:`RangeMeter` of ``vocal`` and ``compressor`` where the caller
    has one (the ranges an earlier search measured with it, in a thread beside other work,
    are not measured again). Returns a :class:`CompressedVocal`.
    """
    from vocalmix.dsp.chain import process_vocal
    from vocalmix.dsp.recipe import VocalRecipe

    if (whole is None) != (span is None):
        raise ValueError("compress_to_range: give both whole and span, or neither")
    source, span = (vocal, slice(None)) if whole is None else (whole, span)
    if meter is None:
        meter = RangeMeter(vocal, sample_rate, compressor, dry_lra_lu)
    offset = 0.0
    for attempt in range(2):
        threshold, _, _ = search_threshold(vocal, sample_rate, target_lra,
                                           tolerance_lu=tolerance_lu, offset_lu=offset,
                                           compressor=compressor, meter=meter)
        wet = None  # a missed first render is not kept while the second is made (memory)
        wet = process_vocal(source, sample_rate,
                            VocalRecipe(highpass_hz=None, compressor=compressor.at(threshold),
                                        reverb=reverb))
        wet_meter = loudness.analyse(wet[:, span], sample_rate)
        reached = wet_meter.loudness_range_lu
        ok = abs(reached - target_lra) <= tolerance_lu
        if ok or not math.isfinite(reached) or attempt == 1:
            break
        offset = reached - meter(threshold)
    return CompressedVocal(threshold, reached, ok, wet, wet_meter)


def room_for_t60(t60_s: float) -> tuple[float, float]:
    """(room_size, size) of the project's reverb for a mid-band T60 (s)."""
    lo_t = expected_t60(0.0, 1.0)
    if t60_s <= lo_t:
        size = max(RANGES["size"][0], t60_s / lo_t)
        return 0.0, size
    return room_size_for_t60(t60_s, 1.0), 1.0


def return_level_db(ret_0db: NDArray, sample_rate: int, take_lufs: float, take_channels: int,
                    return_lu: float) -> float | None:
    """The reverb's ``wet_db`` at which its return (``ret_0db``, rendered at 0 dB) sits
    ``return_lu`` LU from the take as the take sits in the mix: a take of integrated
    loudness ``take_lufs``; a mono one is on both channels of the mix, 3.01 dB louder than
    it measures alone (BS.1770 sums the channels' powers), and the return is stereo. None
    where either loudness cannot be measured."""
    l_ret = loudness.integrated_loudness(ret_0db, sample_rate)
    l_dry = take_lufs + (10 * math.log10(2.0) if take_channels == 1 else 0.0)
    if not (math.isfinite(l_ret) and math.isfinite(l_dry)):
        return None
    return return_lu - (l_ret - l_dry)


def gain_for(vocal_lufs: float, backing_lufs: float, target_lu: float) -> float:
    """Gain (dB) that brings a vocal stem of integrated loudness ``vocal_lufs`` to
    ``target_lu`` over a backing of ``backing_lufs``, within -60 to +40 dB."""
    if not (math.isfinite(vocal_lufs) and math.isfinite(backing_lufs)):
        raise ValueError("the vocal or the backing is silent after processing")
    return float(np.clip(target_lu - (vocal_lufs - backing_lufs), -60.0, 40.0))


def gain_on_meter(meter, backing_lufs: float, target_lu: float, *, steps: int = 4,
                  tolerance_lu: float = 0.005) -> float:
    """Like :func:`gain_for`, on a vocal stem's loudness ``meter``
    (:class:`vocalmix.measure.loudness.LoudnessResult`): the gating of BS.1770 makes the
    integrated loudness not quite follow a gain (blocks cross the -70 LUFS gate, the
    relative gate moves), so the gain is corrected on the meter until the ratio is
    ``target_lu`` within ``tolerance_lu``."""
    gain = gain_for(meter.integrated_lufs, backing_lufs, target_lu)
    for _ in range(steps):
        error = target_lu - (meter.integrated_lufs_at_gain(gain) - backing_lufs)
        if abs(error) <= tolerance_lu:
            break
        gain = float(np.clip(gain + error, -60.0, 40.0))
    return gain


def eq_from_curve(curve_db: NDArray, bands_hz: NDArray, sample_rate: int, *,
                  max_filters: int = 6, min_gain_db: float = 1.0, q: float = 1.41,
                  max_gain_db: float = 12.0) -> list[EQBand]:
    """Peaking filters approximating a correction curve (greedy on the largest remaining deviation
    between 100 Hz and 10 kHz, at most one filter per centre, gains re-fitted by least
    squares on the filters' actual responses beside a free broadband offset, which is
    dropped: the gain is the level's decision; each gain within ``max_gain_db``)."""
    bands_hz = np.asarray(bands_hz, dtype=np.float64)
    curve = np.asarray(curve_db, dtype=np.float64)
    sel = (bands_hz >= 100.0) & (bands_hz <= 10000.0) & np.isfinite(curve) & \
        (bands_hz * 2 ** (1 / 6) < sample_rate / 2)
    if not sel.any():
        return []
    f, target = bands_hz[sel], curve[sel]
    centres: list[float] = []
    residual = target - target.mean()  # a broadband offset is the level's business
    gains = np.zeros(0)
    for _ in range(max_filters):
        # one filter per centre: a band whose filter is at its gain bound keeps a residual,
        # and a second filter there would double the cut past ``max_gain_db``
        free = np.where(np.isin(f, centres), 0.0, np.abs(residual))
        k = int(np.argmax(free))
        if free[k] < min_gain_db:
            break
        centres.append(float(f[k]))
        basis = np.stack([eq_response_db([EQBand("peak", c, 6.0, q)], f, sample_rate) / 6.0
                          for c in centres] + [np.ones_like(f)], axis=1)
        coef, *_ = np.linalg.lstsq(basis, target, rcond=None)
        gains = np.clip(coef[:-1], -max_gain_db, max_gain_db)
        residual = target - basis[:, :-1] @ gains - coef[-1]
    bands = [EQBand("peak", c, float(g), q) for c, g in zip(centres, gains) if abs(g) >= 0.25]
    return bands


@dataclass(frozen=True)
class ToneSettings:
    """How :func:`tonal_eq` moves a take toward a target tonal balance: at most
    ``max_filters`` peaking filters (Q ``q``) of at most ``max_gain_db``, none smaller than
    ``min_gain_db``; bands whose target spread exceeds ``max_spread_db``, or ``range_db``
    under the loudest band, are left alone; up to ``passes`` measured refits."""

    max_filters: int = 4
    max_gain_db: float = 9.0
    max_spread_db: float = 6.0
    min_gain_db: float = 0.5
    passes: int = 3
    range_db: float = 40.0
    q: float = 1.41


def filtered_balance_db(spectrum, bands: list[EQBand], sample_rate: int) -> NDArray:
    """The octave-band tonal balance (:func:`~vocalmix.measure.spectrum.octave_shape_db`)
    of a take whose long-term spectrum is ``spectrum``
    (:func:`~vocalmix.measure.spectrum.long_term_spectrum`) once it has passed through the
    peaking filters ``bands``: the spectrum times the filters' power response, no filtering
    of the audio."""
    from vocalmix.measure.spectrum import band_levels_db, octave_shape_db

    gain = 10.0 ** (eq_response_db(bands, spectrum.freqs, sample_rate) / 10.0)
    return octave_shape_db(band_levels_db(spectrum.freqs, spectrum.psd * gain,
                                          sample_rate=sample_rate))


def tonal_eq(vocal: NDArray, sample_rate: int, target_db: NDArray, spread_db: NDArray,
             s: ToneSettings = ToneSettings(), *, whose: str = "the genre's"
             ) -> tuple[list[EQBand], dict]:
    """Peaking filters that bring the vocal's tonal balance toward a target curve.

    The balance is the long-term spectrum over the active frames in the octave bands
    :data:`vocalmix.measure.spectrum.OCTAVE_HZ`, its power mean removed (the features
    stage's measure of the processed vocals behind the target). A band's deviation from the
    target is corrected only beyond half the band's interquartile range among those vocals
    (``spread_db``: a voice's own timbre is not a fault), and not at all in a band where
    they disagree by more than ``s.max_spread_db`` (below a voice's fundamental, say)
    or where the take or the target is more than ``s.range_db`` under its loudest
    band (nothing there to equalise);
    the corrections are fitted with at most ``s.max_filters`` peaking filters of at
    most ``s.max_gain_db`` (:func:`eq_from_curve`; a broadband offset is left to the
    level), the result measured and the request refitted up to ``s.passes`` times. A pass
    measures the filtered take without filtering it: its long-term spectrum is the take's
    times the filters' power response (the same pedalboard filters' impulse response,
    :func:`vocalmix.dsp.effects.eq_response_db`), which a linear filter makes exact up to the
    STFT frames' leakage (``tests/unit/test_speed_paths.py`` checks it against filtering).
    ``whose`` names the target's source in the decision's text.

    Returns the filters and the decision's record (measured, target, spread, correction,
    per band, and the RMS mismatch over the corrected bands before and after).
    """
    from vocalmix.measure.spectrum import OCTAVE_HZ, long_term_spectrum, octave_shape_db

    bands = np.asarray(OCTAVE_HZ, dtype=np.float64)
    lts = long_term_spectrum(vocal, sample_rate)
    measured = octave_shape_db(lts.bands_db)

    def filtered(trial: list[EQBand]) -> NDArray:  # the balance of the take through ``trial``
        return filtered_balance_db(lts, trial, sample_rate)
    target = np.asarray(target_db, dtype=np.float64)
    spread = np.asarray(spread_db, dtype=np.float64)
    tolerance = np.where(np.isfinite(spread), spread / 2.0, 0.0)
    def loud(curve: NDArray) -> NDArray:  # within range_db of the loudest band
        top = np.max(curve[np.isfinite(curve)]) if np.any(np.isfinite(curve)) else np.inf
        with np.errstate(invalid="ignore"):
            return curve >= top - s.range_db

    with np.errstate(invalid="ignore"):
        usable = (np.isfinite(target - measured) & ~(spread > s.max_spread_db)
                  & (bands * np.sqrt(2.0) < sample_rate / 2.0) & loud(target) & loud(measured))

    def outside(shape: NDArray) -> NDArray:  # what lies outside the spread, per band
        d = target - shape
        return np.where(usable, np.sign(d) * np.maximum(np.abs(d) - tolerance, 0.0), np.nan)

    correction = outside(measured)

    def mismatch(shape: NDArray) -> float | None:
        d = (target - shape)[usable]
        d = d - d.mean() if d.size else d  # the offset is the level's business
        return float(np.sqrt(np.mean(d ** 2))) if d.size else None

    # the filters are fitted to the requested curve at the band centres; an octave band's
    # power integrates them over the band, so the result is measured and what is still
    # outside the spread is added to the request (closed loop, a few passes)
    eq: list[EQBand] = []
    after, request, passes = measured, correction, 0
    while passes < s.passes and np.any(np.abs(np.nan_to_num(outside(after)))
                                             >= s.min_gain_db):
        if passes:
            request = request + outside(after)
        passes += 1
        trial = eq_from_curve(request, bands, sample_rate, max_filters=s.max_filters,
                              min_gain_db=s.min_gain_db, q=s.q,
                              max_gain_db=s.max_gain_db)
        shape = filtered(trial) if trial else measured
        worse, best = mismatch(shape), mismatch(after)
        if worse is not None and worse >= (best or 0.0):
            break  # no better than the last pass: keep it
        eq, after = trial, shape

    def listed(v: NDArray) -> list:
        return [None if not math.isfinite(float(x)) else round(float(x), 3) for x in v]

    info = {"bands_hz": [float(b) for b in bands], "measured_db": listed(measured),
            "target_db": listed(target), "spread_db": listed(spread),
            "correction_db": listed(correction), "corrected_bands": int(usable.sum()),
            "passes": passes,
            "mismatch_before_db": mismatch(measured), "mismatch_after_db": mismatch(after),
            "decision": (f"{len(eq)} peaking filter(s) toward {whose} tonal balance" if eq
                         else f"none: the take's tonal balance is within {whose} spread")}
    return eq, info


def match_drr(dry: NDArray, sample_rate: int, first_guess, drr_target: float, info: dict, *,
              steps: int = 3, tolerance_db: float = 0.5, margin_db: float = 1.0,
              whose: str = "the target", dry_band=None):
    """The reverb return level at which the wet take's blind DRR
    (:mod:`vocalmix.measure.reverb_blind`) reads ``drr_target``: (the reverb settings, or
    None for no reverb, and ``info`` with the measured DRRs and the decision).

    ``dry`` is the take the return is added to; ``first_guess()`` gives its return rendered
    at 0 dB (:func:`vocalmix.dsp.reverb.reverb_return`) and the reverb with the first level
    to try, and is called only when reverb is to be added (the render is a second or so of
    a 3-minute song). Input-aware: **no reverb** when the take's own DRR is within
    ``margin_db`` of the target or under it (it is already as wet); a take without a
    measurable reverberant tail counts as dry. Otherwise up to ``steps`` levels are tried
    (more return, lower DRR, about 1:1) until one reads within ``tolerance_db``; the closest
    is kept. The band-pass is linear, so the wet take's band signal is the dry one's plus
    the return's scaled: each is filtered once however many levels are tried, at about
    11 kHz (:func:`vocalmix.measure.reverb_blind.mid_band_decimated`). ``dry_band``: a
    callable that gives ``dry``'s band signal and rate (e.g. a future's ``result`` where it
    is computed in a thread); None computes it here.
    """
    from vocalmix.audio import db_to_gain
    from vocalmix.measure.reverb_blind import estimate_from_band, mid_band_decimated

    y_dry, band_rate = dry_band() if dry_band is not None else mid_band_decimated(dry,
                                                                                 sample_rate)
    own = estimate_from_band(y_dry, band_rate).drr_db
    info.update(target_drr_db=drr_target, input_drr_db=own)
    if own is not None and own <= drr_target + margin_db:
        info["decision"] = f"none: the take is already as wet as {whose}"
        return None, info
    if own is None:  # no free decay with a measurable tail: a dry take
        info["input_wetness"] = "no measurable reverberation (dry)"
    ret_0db, settings = first_guess()
    y_ret, _ = mid_band_decimated(ret_0db[:, : np.atleast_2d(dry).shape[1]], sample_rate)
    ret_0db = None
    wet_db, tried = settings.wet_db, []
    best = (math.inf, settings)
    for _ in range(max(1, steps)):
        trial = settings.clipped(wet_db=wet_db)
        drr = estimate_from_band(y_dry + y_ret * db_to_gain(trial.wet_db), band_rate).drr_db
        tried.append({"wet_db": trial.wet_db, "drr_db": drr})
        if drr is None:
            break
        if abs(drr - drr_target) < best[0]:
            best = (abs(drr - drr_target), trial)
        if abs(drr - drr_target) <= tolerance_db:
            break
        wet_db = trial.wet_db + (drr - drr_target)
    info.update(drr_steps=tried, decision=f"return level for the DRR of {whose}")
    return best[1], info
