"""The rule-based baseline (proposal IV.A, system ``rule_based``): analyse, apply published
rules, write a recipe.

Every measurement is of the vocal's *active span* (:func:`vocalmix.measure.loudness.
active_span`: from its first to its last sample above -70 dBFS) and of the backing under it,
so a take padded with silence (shorter than the backing, or placed later in it) gets the
recipe of the take alone; a take with less than :data:`MIN_ACTIVE_S` of sound is refused.

Order of decisions (each measured on the audio the previous ones produce; the take's
measured state -- level, loudness range, noise floor, blind DRR -- and each decision's
reason are written to the recipe's ``analysis``):

1. **Pitch correction** (optional): key of the backing (:mod:`vocalmix.measure.key`), notes
   snapped to its scale (:mod:`vocalmix.dsp.pitch`), strength 1, retune 40 ms.
2. **High-pass**: 0.7 x the singer's low pitch (5th percentile of the voiced f0), within
   60-150 Hz: below the voice, rumble and proximity boom only.
2b. **Tonal balance** (input-aware, issue 21): the take's long-term spectrum in octave
   bands 125 Hz - 8 kHz (its power mean removed) against the genre's median from
   ``genre_stats.tsv`` (the training split's processed vocals); only what lies outside half
   the band's interquartile range among those vocals is corrected (a voice's own timbre is
   not a fault), not at all in a band where they disagree by more than 6 dB or which is
   40 dB under the loudest, with at most 4 peaking filters (Q 1.41) of at most +/-9 dB,
   measured and refitted up to three times (:func:`vocalmix.mixing.common.tonal_eq`). A
   table without the curve leaves the vocal's EQ to the masking rule (5).
3. **Compression** (IV.A.3): ratio 4:1, attack 7.5 ms, release 400 ms fixed (the vocal
   settings of FxNorm's compression normalisation); the threshold is searched by bisection
   until the vocal's EBU Tech 3342 loudness range hits the genre's target from
   ``genre_stats.tsv`` within ``lra_tolerance_lu`` -- or the closest reachable value, with
   a warning (a compressor cannot widen the range); a take already in range, or narrower,
   is not compressed.
4. **Reverb** (IV.A.4, after Moffat & Sandler 2019, simplified for a vocal): from the
   backing's tempo (over its loudest minute), pre-delay = a 64th note (10-60 ms); decay T60
   = the genre's median (the T60 of the reverb fitted to its processed vocals), or two
   beats where the table has none (0.4-3 s, mapped to the reverb's room size / size); from
   the vocal's crest factor C (dB), damping = 0.3 + 0.04 (C - 12) within 0.1-0.8. The
   return level (input-aware, issue 21): where the table has the genre's wetness (the
   median blind DRR of its processed vocals, :mod:`vocalmix.measure.reverb_blind`), the
   level at which the wet take's blind DRR reads it -- and **no reverb when the take is
   already as wet** (its own DRR within 1 dB of the target or under); otherwise 9 LU below
   the dry vocal (Pestana & Reiss 2014) minus 0.5 (C - 12) LU within +/-3 LU (percussive,
   peaky delivery gets a drier sound). Send filtered 200 Hz - 8 kHz.
5. **EQ by masking reduction** (IV.A.2, Hafezi & Reiss 2015, two tracks): octave bands
   63 Hz - 16 kHz over the vocal-active frames; the bands of rank <= 3 are *essential* to
   the track masked, and the masker keeps its two strongest bands untouched (tuned for a
   vocal over a full backing, whose low-mids would otherwise always count as its own);
   where a band is essential to one track, not to the other, and the other is louder there,
   the louder one (the masker) gets a peaking cut (Q = 1.41, one octave) of the masking
   amount, at most 6 dB, on at most 5 bands (only the backing's cuts where the vocal has
   its tonal EQ from 2b). A masking measure (mean dB
   by which the backing exceeds the vocal in the vocal's essential bands, over the
   vocal-active frames) is reported before and after.
6. **Level** (IV.A.1): the vocal-to-backing loudness ratio (integrated BS.1770, wet vocal
   against the processed backing) from the genre's median in ``genre_stats.tsv``, the
   overall median for a genre the table lacks; the gain is solved on the rendered chain
   and checked within ``level_tolerance_lu``.

**With a reference song** (``context.reference``, :mod:`vocalmix.mixing.reference`) whose
separation looks reliable, its calibrated figures replace the genre table's: the level is
the reference's vocal-to-backing ratio measured over the whole songs (its own definition),
the loudness range its vocal's; the vocal EQ matches the vocal's long-term spectrum relative
to the backing to the reference's (octave bands 125 Hz - 8 kHz, the mean difference left
to the level, fitted with at most ``reference_eq_filters`` peaking filters of at most
+/-``reference_eq_max_db``) instead of the masking cuts; the reverb takes the reference
vocal's blind T60 (0.3-3 s) and its return level is set, by a few blind estimates of the
wet vocal, until the vocal's blind DRR reads the reference's -- and no reverb is added
when the take is already as wet (its own blind DRR within 1 dB of the reference's or
under). An unreliable reference (an instrumental) is recorded with the reason and the
genre targets are used.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import db_to_gain, peak_abs, to_channels
from vocalmix.measure import loudness
from vocalmix.measure.spectrum import frame_power
from vocalmix.dsp import chain
from vocalmix.dsp.effects import EQBand
from vocalmix.dsp.recipe import BackingRecipe, MixRecipe, VocalRecipe
from vocalmix.dsp.reverb import ReverbSettings, reverb_return
from vocalmix.features.summary import target_shape_db
from vocalmix.mixing.base import MixChoice, MixContext, RenderedBacking, RenderedVocal
from vocalmix.mixing.common import (VOCAL_COMPRESSOR, RangeMeter, SearchedCompressor,
                                    ToneSettings, compress_to_range, gain_for, loudest_window,
                                    match_drr, prepare_vocal, return_level_db, room_for_t60,
                                    search_threshold, tonal_eq, vocal_highpass_hz)

log = logging.getLogger(__name__)

__all__ = ["RuleSettings", "RuleBasedMixer", "masking_eq", "masking_measure_db",
           "reverb_rules", "genre_targets", "noise_floor_dbfs"]

#: Least sound (s) in a vocal take: with the 1.5 s of silence EBU Tech 3342 appends, the
#: shortest take that has one 3 s short-term window, hence a loudness range.
MIN_ACTIVE_S = 1.5

#: The backing's tempo is estimated over its loudest minute (the whole of a song up to 90 s).
TEMPO_WINDOW_S = 60.0

OCTAVES_HZ = np.array([62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0])


@dataclass(frozen=True)
class RuleSettings:
    """The constants of the rules (see the module docstring); ``compressor`` is the fixed
    part of the compressor whose threshold is searched."""

    level_tolerance_lu: float = 0.5
    lra_tolerance_lu: float = 0.5
    compressor: SearchedCompressor = VOCAL_COMPRESSOR
    essential_rank: int = 3
    masker_essential_rank: int = 2
    max_eq_filters: int = 5
    eq_q: float = 1.41
    eq_max_cut_db: float = 6.0
    reverb_level_lu: float = -9.0
    send_highpass_hz: float = 200.0
    send_lowpass_hz: float = 8000.0
    pitch_strength: float = 1.0
    pitch_retune_ms: float = 40.0
    reference_eq_filters: int = 4
    reference_eq_max_db: float = 6.0
    reference_drr_steps: int = 3
    reference_drr_tolerance_db: float = 0.5
    tonal_eq: bool = True
    tone: ToneSettings = ToneSettings()
    wet_margin_db: float = 1.0
    backing_masking_cuts: bool = True
    t60_from: str = "genre"

    def __post_init__(self):
        if self.t60_from not in ("genre", "tempo"):
            raise ValueError(f"t60_from must be 'genre' or 'tempo', not {self.t60_from!r}")


def _row_source(row: Mapping) -> str:
    """Where a genre-table row's values come from: ``real`` (real songs alone), ``corpus``
    (all training songs of the genre), ``prior`` (published figures, the packaged table);
    a table without the column: ``corpus``."""
    src = row.get("row_source")
    return str(src) if src not in (None, "") else "corpus"


def genre_targets(genre: str | None, table: dict[str, dict]) -> tuple[str, dict]:
    """(row used, its targets): the genre's row, or the overall median (``all``)."""
    if genre and genre in table:
        return genre, table[genre]
    return "all", table["all"]


# --------------------------------------------------------------------------- analysis
def _band_frames(audio: NDArray, sample_rate: int) -> tuple[NDArray, NDArray]:
    """Per-frame octave-band powers ``(frames, bands)`` and per-frame total power."""
    freqs, power = frame_power(audio, sample_rate, n_fft=4096, hop=2048)
    bands = power @ _octave_weights(sample_rate, freqs.size)
    return np.maximum(bands.astype(np.float64), 1e-20), power.sum(axis=1)


@lru_cache(maxsize=8)
def _octave_weights(sample_rate: int, n_bins: int) -> NDArray[np.float32]:
    """``(bins, bands)``: the share of each FFT bin (its width centred on it) inside each
    octave band of :data:`OCTAVES_HZ`, so band power is one matrix product with the frames'
    power spectra -- the integral of the piecewise-linear cumulative power spectrum between
    the band edges."""
    df = sample_rate / (2.0 * (n_bins - 1))
    edges = np.concatenate([[0.0], np.arange(n_bins) * df + df / 2])  # bin k: edges k, k+1
    lo = OCTAVES_HZ / np.sqrt(2)
    hi = np.minimum(OCTAVES_HZ * np.sqrt(2), sample_rate / 2)

    def below(f: NDArray) -> NDArray:  # share of each bin under the frequencies f
        return np.clip((f[None, :] - edges[:-1, None]) / np.diff(edges)[:, None], 0.0, 1.0)

    return (below(hi) - below(lo)).astype(np.float32)


def vocal_activity(vocal: NDArray, sample_rate: int, range_db: float = 25.0) -> NDArray:
    """Frames (of :func:`_band_frames`) in which the vocal sings: within ``range_db`` of its
    loud frames. Judge it on the unprocessed take: compression lifts the noise floor."""
    return _active_frames(_band_frames(vocal, sample_rate)[1], range_db)


def _active_frames(total: NDArray, range_db: float = 25.0) -> NDArray:
    """:func:`vocal_activity` from the per-frame total powers of :func:`_band_frames`."""
    ref = np.percentile(total[total > 0], 95) if np.any(total > 0) else 0.0
    return total >= ref * 10 ** (-range_db / 10)


def masking_measure_db(vocal: NDArray, backing: NDArray, sample_rate: int,
                       essential_rank: int = 3, active: NDArray | None = None) -> float:
    """Mean dB by which the backing exceeds the vocal in the vocal's essential octave bands,
    over the vocal-active frames (0 = no masking there)."""
    vb, vt = _band_frames(vocal, sample_rate)
    active = _active_frames(vt) if active is None else active
    return _masking_db(vb, _band_frames(backing, sample_rate)[0], active, essential_rank)


def _masking_db(vb: NDArray, bb: NDArray, active: NDArray, essential_rank: int) -> float:
    """:func:`masking_measure_db` from the octave-band powers of :func:`_band_frames`."""
    n = min(vb.shape[0], bb.shape[0])
    vb, bb = vb[:n], bb[:n]
    active = active[:n]
    if not active.any():
        return 0.0
    v_level = 10 * np.log10(vb[active].mean(axis=0))
    essential = np.argsort(-v_level)[:essential_rank]
    diff = 10 * np.log10(bb[active][:, essential]) - 10 * np.log10(vb[active][:, essential])
    return float(np.mean(np.maximum(diff, 0.0)))


def masking_eq(vocal: NDArray, backing: NDArray, sample_rate: int, s: RuleSettings,
               active: NDArray | None = None
               ) -> tuple[list[EQBand], list[EQBand], list[dict]]:
    """Hafezi & Reiss masking-reduction cuts for two tracks: (vocal cuts, backing cuts,
    decisions). Levels are long-term octave-band levels over the vocal-active frames."""
    vb, vt = _band_frames(vocal, sample_rate)
    active = _active_frames(vt) if active is None else active
    return _masking_cuts(vb, _band_frames(backing, sample_rate)[0], active, sample_rate, s)


def _masking_cuts(vb: NDArray, bb: NDArray, active: NDArray, sample_rate: int,
                  s: RuleSettings) -> tuple[list[EQBand], list[EQBand], list[dict]]:
    """:func:`masking_eq` from the octave-band powers of :func:`_band_frames`."""
    n = min(vb.shape[0], bb.shape[0])
    active = active[:n]
    if not active.any():
        return [], [], []
    xv = 10 * np.log10(vb[:n][active].mean(axis=0))
    xb = 10 * np.log10(bb[:n][active].mean(axis=0))
    rank_v = np.argsort(np.argsort(-xv)) + 1
    rank_b = np.argsort(np.argsort(-xb)) + 1
    decisions = []
    cuts = {"vocal": [], "backing": []}
    for masker, maskee, xm, xe, rm, re in (("backing", "vocal", xb, xv, rank_b, rank_v),
                                           ("vocal", "backing", xv, xb, rank_v, rank_b)):
        m = np.where((re <= s.essential_rank) & (rm > s.masker_essential_rank) & (xm > xe),
                     xm - xe, 0.0)
        for k in np.argsort(-m)[: s.max_eq_filters]:
            if m[k] <= 0 or OCTAVES_HZ[k] * np.sqrt(2) > sample_rate / 2:
                continue
            gain = -min(float(m[k]), s.eq_max_cut_db)
            cuts[masker].append(EQBand("peak", float(OCTAVES_HZ[k]), gain, s.eq_q))
            decisions.append({"band_hz": float(OCTAVES_HZ[k]), "masker": masker,
                              "maskee": maskee, "masking_db": float(m[k]), "cut_db": gain})
    return cuts["vocal"], cuts["backing"], decisions


def noise_floor_dbfs(vocal: NDArray, sample_rate: int, frame_s: float = 0.05) -> float:
    """The take's noise floor: the 5th percentile of its 50-ms frame levels (dBFS, channel
    mean square) over the frames that are not digital silence (-inf if all are)."""
    x = np.atleast_2d(np.asarray(vocal, dtype=np.float32))
    step = max(1, int(frame_s * sample_rate))
    frames = x.shape[1] // step
    if frames == 0:
        return -math.inf
    ms = np.zeros(frames)
    for channel in x:
        f = channel[: frames * step].reshape(frames, step)
        ms += np.einsum("ij,ij->i", f, f) / step
    ms /= x.shape[0]
    ms = ms[ms > 1e-20]  # digital silence (a gated or padded take) is not a noise floor
    if not ms.size:
        return -math.inf
    return 10 * math.log10(float(np.percentile(ms, 5)))


def _finite(value) -> float | None:
    """A table value as a finite float, else None (an empty cell, a missing column)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _table_value(row: dict, overall: dict, key: str) -> float | None:
    """``row[key]`` as a finite float, else the overall row's, else None (a table made
    before the column existed, or a prior row without it)."""
    value = _finite(row.get(key))
    return value if value is not None else _finite(overall.get(key))


#: Samples per block of :func:`crest_factor_db` (its temporaries are a block's, not a song's).
CREST_BLOCK = 1 << 18


def crest_factor_db(audio: NDArray) -> float:
    """Peak over RMS (dB) of the samples above -80 dB of the peak (0 for silence); two
    passes over blocks of :data:`CREST_BLOCK` samples, no song-sized temporary."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    peak = peak_abs(x)
    if peak <= 0:
        return 0.0
    floor = np.float32(1e-4 * peak)
    total, count = 0.0, 0
    for i in range(0, x.size, CREST_BLOCK):
        a = np.abs(x[i: i + CREST_BLOCK])
        keep = a > floor
        total += float(np.sum(np.square(a, where=keep, out=np.zeros_like(a)),
                              dtype=np.float64))
        count += int(np.count_nonzero(keep))
    mean_square = total / max(1, count)
    return float(20 * np.log10(peak / np.sqrt(mean_square))) if mean_square > 0 else 0.0


def reverb_rules(dry_vocal: NDArray, sample_rate: int, tempo_bpm: float, crest_db: float,
                 dry_lufs: float, s: RuleSettings, reference=None,
                 target_drr_db: float | None = None, genre_t60_s: float | None = None,
                 dry_band=None) -> tuple[ReverbSettings | None, dict]:
    """Reverb parameters from tempo and crest factor (see the module docstring);
    ``dry_lufs`` is the integrated loudness of ``dry_vocal`` (as it is: a mono take is
    compared with the stereo return as it sits in the mix, on both channels). With a reliable
    ``reference`` (:class:`vocalmix.mixing.reference.ReferenceTargets`) with a blind T60,
    its T60 and DRR instead (None: the take is already as wet as the reference). With
    ``target_drr_db`` (the genre's wetness, a blind DRR), the return level is set for it,
    and no reverb is added to a take already as wet. ``dry_band``: a callable giving
    ``dry_vocal``'s mid band as :func:`vocalmix.measure.reverb_blind.mid_band_decimated`
    does, where the caller computes it elsewhere (see :func:`vocalmix.mixing.common.
    match_drr`)."""
    beat = 60.0 / tempo_bpm if math.isfinite(tempo_bpm) and tempo_bpm > 0 else 0.5
    predelay = float(np.clip(1000.0 * beat / 16.0, 10.0, 60.0))
    t60 = float(np.clip(2.0 * beat, 0.4, 3.0))
    if genre_t60_s is not None and math.isfinite(genre_t60_s):
        t60 = float(np.clip(genre_t60_s, 0.3, 3.0))
    if reference is not None and reference.t60_s is not None:
        t60 = float(np.clip(reference.t60_s, 0.3, 3.0))
    room, size = room_for_t60(t60)
    damping = float(np.clip(0.3 + 0.04 * (crest_db - 12.0), 0.1, 0.8))
    level = s.reverb_level_lu - float(np.clip(0.5 * (crest_db - 12.0), -3.0, 3.0))
    probe = ReverbSettings(room_size=room, size=size, damping=damping, width=1.0, wet_db=0.0,
                           predelay_ms=predelay, highpass_hz=s.send_highpass_hz,
                           lowpass_hz=s.send_lowpass_hz)
    info = {"tempo_bpm": tempo_bpm, "beat_s": beat, "target_t60_s": t60,
            "crest_factor_db": crest_db, "return_level_lu": level}

    def first_guess() -> tuple[NDArray, ReverbSettings]:
        """The return at 0 dB and the settings at the rule's level (rendered only when
        reverb is to be added: a take already as wet needs neither)."""
        ret = reverb_return(dry_vocal, sample_rate, probe)
        wet_db = return_level_db(ret, sample_rate, dry_lufs, np.atleast_2d(dry_vocal).shape[0],
                                 level)
        return ret, probe.clipped(wet_db=float(-15.0 if wet_db is None else wet_db))

    if reference is not None and reference.t60_s is not None and reference.drr_db is not None:
        return _match_drr(dry_vocal, sample_rate, first_guess, reference.drr_db, s, info,
                          source="reference", dry_band=dry_band)
    if target_drr_db is not None and math.isfinite(target_drr_db):
        return _match_drr(dry_vocal, sample_rate, first_guess, target_drr_db, s, info,
                          source="genre", dry_band=dry_band)
    info["decision"] = "return level by the rule (no wetness target)"
    return first_guess()[1], info


def _match_drr(dry: NDArray, sample_rate: int, first_guess, drr_target: float,
               s: RuleSettings, info: dict, source: str = "reference", dry_band=None
               ) -> tuple[ReverbSettings | None, dict]:
    """:func:`vocalmix.mixing.common.match_drr` with the rules' steps and margins."""
    what = "the reference" if source == "reference" else "the genre's vocals"
    info["source"] = source
    return match_drr(dry, sample_rate, first_guess, drr_target, info,
                     steps=s.reference_drr_steps, tolerance_db=s.reference_drr_tolerance_db,
                     margin_db=s.wet_margin_db, whose=what, dry_band=dry_band)


def _compression_reason(input_lra: float, target_lra: float, threshold: float | None,
                        tolerance_lu: float) -> str:
    """Why the compressor is set as it is, for the recipe's analysis."""
    if threshold is not None:
        return (f"threshold for the target range: the take's {input_lra:.1f} LU is wider than "
                f"{target_lra:.1f} LU")
    if math.isfinite(input_lra) and input_lra < target_lra - tolerance_lu:
        return (f"none: the take's range ({input_lra:.1f} LU) is narrower than the target "
                f"({target_lra:.1f} LU), and a compressor cannot widen it")
    return (f"none: the take's range ({input_lra:.1f} LU) is within {tolerance_lu:g} LU of "
            f"the target ({target_lra:.1f} LU) or under it")


@dataclass(frozen=True)
class _BackingAnalysis:
    """What the rules measure of the backing: its tempo (over its loudest minute), the
    processed backing (no EQ yet), and under the vocal's span its integrated loudness and
    octave-band powers (None where a reference sets the targets instead)."""

    tempo_bpm: float
    tempo_confidence: float
    processed: NDArray
    span_lufs: float | None
    span_bands: NDArray | None


def _analyse_backing(backing: NDArray, sample_rate: int, span: slice, recipe: MixRecipe,
                     levels: bool) -> _BackingAnalysis:
    from vocalmix.measure.tempo import estimate_tempo

    window = loudest_window(backing, sample_rate, TEMPO_WINDOW_S)
    tempo, confidence = estimate_tempo(backing[:, window], sample_rate)
    if recipe.backing.eq or recipe.backing.gain_db != 0.0:
        processed = chain.process_backing(backing, sample_rate, recipe)
    else:  # a neutral backing recipe is the backing itself: no copy of the song (issue 19)
        processed = to_channels(backing, 2)
    lufs = bands = None
    if levels:
        lufs = loudness.integrated_loudness(processed[:, span], sample_rate)
        bands = _band_frames(processed[:, span], sample_rate)[0]
    return _BackingAnalysis(tempo, confidence, processed, lufs, bands)


# --------------------------------------------------------------------------- the mixer
class RuleBasedMixer:
    """The rule-based system (see the module docstring): reads ``context.genre``,
    ``genre_source``, ``genre_stats`` and ``pitch_correct``."""

    name = "rule_based"
    needs_genre = True

    def __init__(self, settings: RuleSettings = RuleSettings()):
        self.settings = settings

    def choose(self, vocal: NDArray, backing: NDArray, sample_rate: int,
               context: MixContext) -> MixChoice:
        """Choose a recipe for ``vocal`` over ``backing`` by the rules of the module
        docstring; each signal is analysed once.

        One worker thread runs beside the rules (numpy, scipy and pedalboard release the
        GIL in their loops): the backing's analyses while the take is prepared, then each
        measurement the next step needs but the current one does not (the take's activity
        and noise floor beside the high-pass search, its mid band beside its loudness, the
        compressor's threshold beside the reverb's level, the cut backing's bands beside its
        loudness). Every number is computed as it would be one after the other."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return self._choose(vocal, backing, sample_rate, context, pool)

    def _choose(self, vocal: NDArray, backing: NDArray, sample_rate: int,
                context: MixContext, pool) -> MixChoice:
        from vocalmix.dsp.effects import apply_highpass
        from vocalmix.measure.reverb_blind import mid_band_decimated

        s = self.settings
        vocal = np.atleast_2d(np.asarray(vocal, dtype=np.float32))
        backing = np.atleast_2d(np.asarray(backing, dtype=np.float32))
        genre = context.genre
        row, targets = genre_targets(genre, context.genre_stats)
        ref = context.reference
        use_ref = ref is not None and ref.reliable
        if use_ref:  # as separated; calibrated once the vocal branch is rendered
            targets = {"vocal_to_backing_lu": ref.separated.vocal_to_backing_lu,
                       "vocal_lra_lu": ref.separated.vocal_lra_lu}
        analysis: dict = {"genre": genre or "unknown", "genre_source": context.genre_source,
                          "genre_stats_row": row,
                          "genre_row_source": _row_source(targets),
                          "targets_from": "reference" if use_ref else "genre",
                          "target_vocal_to_backing_lu": float(targets["vocal_to_backing_lu"]),
                          "target_vocal_lra_lu": float(targets["vocal_lra_lu"])}
        if ref is not None:
            analysis["reference"] = ref.analysis()
            if not ref.reliable:
                log.warning("reference %s not used: %s; the genre targets instead", ref.path,
                            ref.reason)
        if genre and row != genre:
            log.info("genre %r not in the genre statistics: using the overall median", genre)

        # the vocal's active span: every measurement below is of the take there (and of the
        # backing under it), so the silence around a take changes nothing (a take shorter
        # than the backing is padded with silence; BS.1770/Tech 3342 windows that are partly
        # silent would pass the gates and widen the loudness range)
        start, stop = loudness.active_span(vocal)
        stop = min(stop, backing.shape[1])
        if stop - start < MIN_ACTIVE_S * sample_rate:
            raise ValueError(f"the vocal has {max(0, stop - start) / sample_rate:.2f} s of sound "
                             f"(the rest is silence); the rule-based mixer needs at least "
                             f"{MIN_ACTIVE_S:g} s to measure its level and loudness range")
        span = slice(start, stop)
        if (start, stop) != (0, vocal.shape[1]):
            analysis["vocal_active_span_s"] = [start / sample_rate, stop / sample_rate]

        # the backing's analyses need nothing of the vocal's: they run in the worker while
        # the take is prepared
        backing_future = pool.submit(_analyse_backing, backing, sample_rate, span,
                                     MixRecipe(system=self.name), not use_ref)
        # 0. cleanup, 1. pitch correction
        x, pc, corrected, prep = prepare_vocal(vocal, backing, sample_rate, context,
                                               strength=s.pitch_strength,
                                               retune_ms=s.pitch_retune_ms)
        back = backing_future.result()
        analysis.update(prep)
        # what the take is (its noise floor, the frames where it sings), measured on the
        # prepared take before the high-pass, beside the high-pass's search
        take_future = pool.submit(lambda: (noise_floor_dbfs(x[:, span], sample_rate),
                                           vocal_activity(x[:, span], sample_rate)))

        # 2. high-pass below the voice (the filter is causal and starts from rest, so the
        # span of the filtered vocal is the span filtered alone)
        highpass = vocal_highpass_hz(x[:, span], sample_rate)
        x_hp_whole = apply_highpass(x, sample_rate, highpass)

        # 2b. the tonal balance toward the genre's (input-aware: only what lies outside the
        # spread of the genre's vocals is corrected, with bounded gains); a reference song
        # sets the tone instead (step 5), a table without curves leaves it to the masking
        # rule
        overall = context.genre_stats.get("all", {})
        curve = None
        if s.tonal_eq and not use_ref:  # the genre's curve, else the overall one
            curve = target_shape_db(targets) or target_shape_db(overall)
        vocal_eq: list[EQBand] = []
        if curve is not None:
            vocal_eq, analysis["tonal_eq"] = tonal_eq(x_hp_whole[:, span], sample_rate,
                                                      *curve, s.tone)
            if vocal_eq:
                from vocalmix.dsp.effects import apply_eq

                x_hp_whole = apply_eq(x_hp_whole, sample_rate, vocal_eq)
        x_hp = x_hp_whole[:, span]
        # the take's mid band (the blind DRR's input) beside its loudness
        band_future = pool.submit(mid_band_decimated, x_hp, sample_rate)
        dry = loudness.analyse(x_hp, sample_rate)
        noise_floor, active = take_future.result()
        analysis["input"] = {"integrated_lufs": dry.integrated_lufs,
                             "loudness_range_lu": dry.loudness_range_lu,
                             "noise_floor_dbfs": noise_floor,
                             "measured_on": "the take after cleanup, pitch correction, "
                                            "high-pass and tonal EQ (noise floor: before "
                                            "the high-pass)"}

        # 4. reverb rules (from the uncompressed vocal: the rules need its crest factor and
        # the return-to-dry loudness, which compression barely moves), toward the genre's
        # wetness where the table has it: none for a take already as wet
        crest = crest_factor_db(x_hp)
        # the compressor's threshold for the dry take does not depend on the reverb: it is
        # searched in the worker while the reverb's level is set, and compress_to_range
        # finds those ranges measured
        target_lra = float(targets["vocal_lra_lu"])
        ranges = RangeMeter(x_hp, sample_rate, s.compressor, dry.loudness_range_lu)
        searched = pool.submit(search_threshold, x_hp, sample_rate, target_lra,
                               tolerance_lu=s.lra_tolerance_lu, compressor=s.compressor,
                               meter=ranges)
        reverb, reverb_info = reverb_rules(
            x_hp, sample_rate, back.tempo_bpm, crest, dry.integrated_lufs, s,
            reference=ref if use_ref else None,
            target_drr_db=None if use_ref else _table_value(targets, overall, "vocal_drr_db"),
            genre_t60_s=(_table_value(targets, overall, "vocal_t60_s")
                         if s.t60_from == "genre" and not use_ref else None),
            dry_band=band_future.result)
        searched.result()
        analysis["reverb_rules"] = reverb_info
        analysis["tempo_confidence"] = back.tempo_confidence
        if "input_drr_db" in reverb_info:
            analysis["input"]["drr_db"] = reverb_info["input_drr_db"]

        # 3. compression to the target loudness range, measured on the wet vocal: search on
        # the dry vocal with the reverb's effect on the range as an offset, then check
        threshold, lra_reached, reachable, wet_whole, wet_meter = compress_to_range(
            x_hp, sample_rate, target_lra, reverb, tolerance_lu=s.lra_tolerance_lu,
            compressor=s.compressor, whole=x_hp_whole, span=span, meter=ranges)
        cal, b_whole = None, back.processed
        if use_ref:
            cal = ref.calibrate(wet_whole, b_whole, sample_rate)
            analysis["reference"] = ref.analysis(cal)
            if abs(cal.vocal_lra_lu - target_lra) > s.lra_tolerance_lu:
                target_lra = cal.vocal_lra_lu
                threshold, lra_reached, reachable, wet_whole, wet_meter = compress_to_range(
                    x_hp, sample_rate, target_lra, reverb, tolerance_lu=s.lra_tolerance_lu,
                    compressor=s.compressor, whole=x_hp_whole, span=span, meter=ranges)
            analysis.update(target_vocal_lra_lu=target_lra,
                            target_vocal_to_backing_lu=cal.vocal_to_backing_lu)
        x_hp = x_hp_whole = ranges = None  # measured: the wet render is used from here on
        if not reachable:
            log.warning("vocal loudness range: target %.1f LU not reachable by compression; "
                        "closest %.1f LU", target_lra, lra_reached)
        analysis.update(compressor_threshold_db=threshold, vocal_lra_lu=lra_reached,
                        lra_reachable=bool(reachable),
                        compression_decision=_compression_reason(
                            dry.loudness_range_lu, target_lra, threshold, s.lra_tolerance_lu))
        vocal_recipe = VocalRecipe(highpass_hz=highpass, eq=tuple(vocal_eq),
                                   compressor=s.compressor.at(threshold), reverb=reverb,
                                   pitch_correction=pc, cleanup=context.cleanup)

        # the vocal branch at 0 dB gain is the last wet render (everything after the gain is
        # linear, so any gain is a scaling of it), of the whole take: the mix scales it
        # instead of rendering it again; it is measured over the span, and the backing under
        # the vocal
        target = float(targets["vocal_to_backing_lu"])
        stem = wet_whole[:, span]
        rendered = RenderedVocal(vocal, vocal_recipe, wet_whole)
        if use_ref:
            return self._match_reference(vocal, x, b_whole, sample_rate, vocal_recipe,
                                         rendered, ref, cal, analysis, highpass, corrected)
        b_stem = b_whole[:, span]
        stem_meter = wet_meter  # the analysis of ``stem``, made by the range's check
        l_stem = stem_meter.integrated_lufs
        l_backing = back.span_lufs
        gain = gain_for(l_stem, l_backing, target)

        # 5. masking-reduction EQ, judged at the balance the mix will have (band powers are
        # measured once per signal at 0 dB and scale with the square of the gain)
        v_bands, b_bands = _band_frames(stem, sample_rate)[0], back.span_bands
        g2 = db_to_gain(gain) ** 2
        before = _masking_db(g2 * v_bands, b_bands, active, s.essential_rank)
        v_cuts, b_cuts, decisions = _masking_cuts(g2 * v_bands, b_bands, active, sample_rate, s)
        if curve is not None:  # the vocal's EQ is the tonal one: cuts only on the backing
            v_cuts = []
            decisions = [d for d in decisions if d["masker"] == "backing"]
        if not s.backing_masking_cuts:
            b_cuts = []
            decisions = [d for d in decisions if d["masker"] != "backing"]
        if v_cuts:
            vocal_recipe = replace(vocal_recipe, eq=tuple(v_cuts))
            # the uncut render is replaced: let it go before the new one is made (memory)
            rendered = stem = wet_whole = None
            full = chain.process_vocal(x, sample_rate, replace(vocal_recipe, cleanup=None,
                                                               pitch_correction=None))
            rendered = RenderedVocal(vocal, vocal_recipe, full)
            stem = full[:, span]
            stem_meter = loudness.analyse(stem, sample_rate)
            l_stem = stem_meter.integrated_lufs
            v_bands = _band_frames(stem, sample_rate)[0]
        backing_recipe = BackingRecipe(eq=tuple(b_cuts))
        rendered_backing = None
        if b_cuts:
            # the whole backing through its cuts at 0 dB: the mix's backing branch, which
            # the mix scales instead of filtering the song again
            b_cut = chain.process_backing(backing, sample_rate,
                                          MixRecipe(system=self.name, backing=backing_recipe))
            rendered_backing = RenderedBacking(backing, backing_recipe, b_cut)
            b_stem = b_cut[:, span]
            bands_future = pool.submit(_band_frames, b_stem, sample_rate)
            l_backing = loudness.integrated_loudness(b_stem, sample_rate)
            b_bands = bands_future.result()[0]

        # 6. level on the complete chain
        gain = gain_for(l_stem, l_backing, target)
        after = _masking_db(db_to_gain(gain) ** 2 * v_bands, b_bands, active, s.essential_rank)
        measured = stem_meter.integrated_lufs_at_gain(gain) - l_backing
        analysis.update(highpass_hz=highpass, masking_before_db=before, masking_after_db=after,
                        eq_decisions=decisions, measured_vocal_to_backing_lu=measured)
        if abs(measured - target) > s.level_tolerance_lu:
            log.warning("level: measured %.2f LU, target %.2f LU", measured, target)
        recipe = MixRecipe(system=self.name, vocal=replace(vocal_recipe, gain_db=gain),
                           backing=backing_recipe, analysis=analysis)
        return MixChoice(recipe, corrected, rendered, rendered_backing)

    def _match_reference(self, vocal: NDArray, x: NDArray, b_whole: NDArray, sample_rate: int,
                         vocal_recipe: VocalRecipe, rendered: RenderedVocal, ref, cal,
                         analysis: dict, highpass: float, corrected: NDArray | None
                         ) -> MixChoice:
        """Steps 5 and 6 toward a reference (see the module docstring): tone-matching EQ,
        then the level over the whole songs, as the reference's ratio was measured."""
        from vocalmix.mixing.common import eq_from_curve, gain_on_meter
        from vocalmix.mixing.reference import BANDS_HZ, relative_spectrum_db

        s = self.settings
        before = relative_spectrum_db(rendered.stem, b_whole, sample_rate)
        bands = np.asarray(BANDS_HZ)
        delta = np.asarray(cal.relative_spectrum_db) - np.asarray(before)
        delta[(bands < 125.0) | (bands > 8000.0)] = np.nan
        eq = eq_from_curve(delta, bands, sample_rate, max_filters=s.reference_eq_filters,
                           max_gain_db=s.reference_eq_max_db, q=s.eq_q)
        stem = rendered.stem
        if eq:
            vocal_recipe = replace(vocal_recipe, eq=tuple(eq))
            stem = chain.process_vocal(x, sample_rate, replace(vocal_recipe, cleanup=None,
                                                               pitch_correction=None))
            rendered = RenderedVocal(vocal, vocal_recipe, stem)
        after = relative_spectrum_db(stem, b_whole, sample_rate)
        meter = loudness.analyse(stem, sample_rate)
        l_backing = loudness.integrated_loudness(b_whole, sample_rate)
        target = float(cal.vocal_to_backing_lu)
        gain = gain_on_meter(meter, l_backing, target)
        measured = meter.integrated_lufs_at_gain(gain) - l_backing

        def spread(rel) -> float | None:
            d = np.asarray(cal.relative_spectrum_db) - np.asarray(rel)
            d = d[(bands >= 125.0) & (bands <= 8000.0) & np.isfinite(d)]
            return float(np.std(d)) if d.size else None

        analysis.update(highpass_hz=highpass, measured_vocal_to_backing_lu=measured,
                        level_measured_over="whole songs (as the reference's)",
                        eq_decisions=[{"band_hz": b.frequency_hz, "gain_db": b.gain_db,
                                       "reason": "toward the reference's vocal-to-backing "
                                                 "spectrum"} for b in eq],
                        tone_mismatch_before_db=spread(before),
                        tone_mismatch_after_db=spread(after))
        if abs(measured - target) > s.level_tolerance_lu:
            log.warning("level: measured %.2f LU, target %.2f LU", measured, target)
        recipe = MixRecipe(system=self.name, vocal=replace(vocal_recipe, gain_db=gain),
                           backing=BackingRecipe(), analysis=analysis)
        return MixChoice(recipe, corrected, rendered)
