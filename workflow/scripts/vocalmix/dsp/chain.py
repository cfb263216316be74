"""The one effect chain every mixing system renders its :class:`MixRecipe` with.

    vocal ─ [cleanup] ─ [pitch correction] ─ high-pass ─ EQ ─ compressor ─ gain ─ reverb ─┐
                                                                                  + ─ bus limiter ─ mix
    backing ─────────────────────────────────────────────── EQ ─ gain ─────────────┘

* Effects are pedalboard's (:mod:`vocalmix.dsp.effects`, :mod:`vocalmix.dsp.reverb`);
  the reverb is a send (post-gain), so its level follows the vocal's.
* Both stems are stereo at the bus (a mono vocal is a centred source).
* The bus limiter keeps the true peak (BS.1770 Annex 2) at or below ``ceiling_dbtp``:
  when the sum's true peak is above it, pedalboard's ``Limiter`` runs with its threshold
  0.5 dB under the ceiling, then a final static gain removes any inter-sample overshoot
  the sample-peak limiter let through. Nothing is touched when the sum is under the ceiling.
* Output length equals the backing's; the vocal is padded or trimmed to it by the caller.
* Deterministic: the same inputs and recipe give the same samples.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import db_to_gain, to_channels
from vocalmix.measure.loudness import true_peak_dbtp
from vocalmix.dsp.effects import apply_compressor, apply_eq, apply_highpass, process_by_channel
from vocalmix.dsp.recipe import MixRecipe, VocalRecipe
from vocalmix.dsp.reverb import render_reverb

log = logging.getLogger(__name__)

__all__ = ["MixResult", "process_vocal", "process_backing", "bus_limit", "render"]

LIMITER_HEADROOM_DB = 0.5


@dataclass
class MixResult:
    """The mix and its stems, all ``(2, samples)`` float32 at the render's sample rate."""

    mix: NDArray
    vocal: NDArray  # processed vocal stem (wet, post gain), before the bus limiter
    backing: NDArray  # processed backing stem, before the bus limiter
    report: dict = field(default_factory=dict)




def process_vocal(vocal: NDArray, sample_rate: int, v: VocalRecipe, *,
                  pitch_corrected: NDArray | None = None,
                  report: dict | None = None) -> NDArray[np.float32]:
    """The vocal branch: (cleanup), (pitch correction), high-pass, EQ, compressor, gain,
    reverb send.

    ``pitch_corrected`` passes the vocal already cleaned up and pitch-corrected as the
    recipe says (a system that searches over the later stages prepares it once and reuses
    it); it is used where the recipe cleans up or corrects pitch.
    """
    x = np.atleast_2d(np.asarray(vocal, dtype=np.float32))
    if v.cleanup is not None and pitch_corrected is not None:
        x = pitch_corrected
    elif v.cleanup is not None:
        from vocalmix.dsp.cleanup import apply_cleanup

        x, cleanup_report = apply_cleanup(x, sample_rate, v.cleanup)
        if report is not None:
            report["cleanup"] = cleanup_report
    if v.pitch_correction is not None:
        if pitch_corrected is None:
            from vocalmix.dsp.pitch import correct_pitch

            x, pc_report = correct_pitch(x, sample_rate, v.pitch_correction)
            if report is not None:
                report["pitch_correction"] = pc_report
        else:
            x = pitch_corrected
    x = apply_highpass(x, sample_rate, v.highpass_hz)
    x = apply_eq(x, sample_rate, v.eq)
    x = apply_compressor(x, sample_rate, v.compressor)
    x = x * np.float32(db_to_gain(v.gain_db))
    if v.reverb is not None:
        return render_reverb(x, sample_rate, v.reverb)
    return to_channels(x, 2)


def process_backing(backing: NDArray, sample_rate: int, recipe: MixRecipe) -> NDArray[np.float32]:
    """The backing branch: EQ, gain (stereo). Without EQ at 0 dB it is ``backing`` itself
    where that is stereo float32 (not a copy: don't modify it in place)."""
    b = apply_eq(to_channels(backing, 2), sample_rate, recipe.backing.eq)
    return _scaled(b, recipe.backing.gain_db)


def _scaled(x: NDArray[np.float32], gain_db: float) -> NDArray[np.float32]:
    """``x`` times the gain; ``x`` itself at 0 dB (times 1.0: the same samples)."""
    return x if gain_db == 0.0 else x * np.float32(db_to_gain(gain_db))


def bus_limit(mix: NDArray, sample_rate: int, ceiling_dbtp: float,
              release_ms: float) -> tuple[NDArray[np.float32], dict]:
    """Keep the true peak of ``mix`` at or below ``ceiling_dbtp`` (see the module docstring)."""
    import pedalboard as pb

    before = true_peak_dbtp(mix, sample_rate)
    info = {"true_peak_before_dbtp": before, "limited": False, "safety_gain_db": 0.0}
    if before <= ceiling_dbtp:
        info["true_peak_after_dbtp"] = before
        return mix.astype(np.float32, copy=False), info
    # pedalboard's limiter has no linked detection: each channel is limited on its own, in
    # threads for a long mix (the samples of one stereo call)
    out = process_by_channel(
        lambda: [pb.Limiter(threshold_db=ceiling_dbtp - LIMITER_HEADROOM_DB,
                            release_ms=release_ms)], mix, sample_rate)
    after = true_peak_dbtp(out, sample_rate)
    info["limited"] = True
    if after > ceiling_dbtp:
        g = ceiling_dbtp - after - 0.01
        out = out * np.float32(db_to_gain(g))
        info["safety_gain_db"] = g
        after += g  # the interpolation is linear: a static gain moves the true peak by g
    info["true_peak_after_dbtp"] = after
    return out.astype(np.float32, copy=False), info


def render(vocal: NDArray, backing: NDArray, sample_rate: int, recipe: MixRecipe, *,
           pitch_corrected: NDArray | None = None,
           vocal_stem_0db: NDArray | None = None,
           backing_stem_0db: NDArray | None = None) -> MixResult:
    """Render ``recipe`` on ``vocal`` and ``backing`` (both ``(channels, samples)``, equal
    lengths, ``sample_rate``).

    ``vocal_stem_0db`` passes the vocal branch of this very recipe already rendered at 0 dB
    gain (``(2, samples)``; a system renders it while choosing): everything after the gain
    is linear, so the stem is that render scaled by the gain (equal to rendering again up
    to float32 rounding, about 1e-7 relative) and the vocal branch is not run again.
    ``backing_stem_0db`` likewise passes the backing branch (its EQ) at 0 dB gain: the
    backing stem is that times the gain, the very samples :func:`process_backing` gives
    (at 0 dB that array itself).
    """
    vocal = np.atleast_2d(vocal)
    backing = np.atleast_2d(backing)
    if vocal.shape[1] != backing.shape[1]:
        raise ValueError(f"vocal has {vocal.shape[1]} samples, backing {backing.shape[1]}: "
                         "pad or trim the vocal to the backing first")
    report: dict = {}
    if vocal_stem_0db is not None:
        if vocal_stem_0db.shape != (2, backing.shape[1]):
            raise ValueError(f"vocal_stem_0db has shape {vocal_stem_0db.shape}; expected "
                             f"(2, {backing.shape[1]})")
        v = vocal_stem_0db * np.float32(db_to_gain(recipe.vocal.gain_db))
    else:
        v = process_vocal(vocal, sample_rate, recipe.vocal, pitch_corrected=pitch_corrected,
                          report=report)[:, : backing.shape[1]]
    if backing_stem_0db is not None:
        if backing_stem_0db.shape != (2, backing.shape[1]):
            raise ValueError(f"backing_stem_0db has shape {backing_stem_0db.shape}; expected "
                             f"(2, {backing.shape[1]})")
        b = _scaled(backing_stem_0db, recipe.backing.gain_db)
    else:
        b = process_backing(backing, sample_rate, recipe)
        if b is backing:  # the stem is the render's own array, never the caller's input
            b = b.copy()
    mix, report["bus"] = bus_limit(v + b, sample_rate, recipe.bus.ceiling_dbtp,
                                   recipe.bus.limiter_release_ms)
    return MixResult(mix=mix, vocal=v, backing=b, report=report)
