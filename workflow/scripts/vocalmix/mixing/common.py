"""Decision helpers shared by the mixing systems: compression to a target loudness range,
the reverb for a target decay, the gain for a target level, the vocal high-pass.

Every system decides *what* to aim for (a genre table, a trained model, a preset); these
find the settings of the shared chain that get there.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from vocalmix.measure import loudness
from vocalmix.dsp.effects import CompressorSettings, apply_compressor
from vocalmix.dsp.reverb import RANGES, expected_t60

__all__ = ["COMPRESSOR", "search_threshold", "compress_to_range", "room_for_t60", "gain_for",
           "vocal_highpass_hz"]

#: Fixed compressor of the systems that search its threshold: ratio 4:1, attack 7.5 ms,
#: release 400 ms (the vocal settings of FxNorm's compression normalisation).
COMPRESSOR = {"ratio": 4.0, "attack_ms": 7.5, "release_ms": 400.0}


def vocal_highpass_hz(vocal: NDArray, sample_rate: int) -> float:
    """0.7 x the singer's low pitch (5th percentile of the voiced f0), within 60-150 Hz."""
    from vocalmix.measure.pitch import track_pitch

    track = track_pitch(vocal, sample_rate)
    low = float(np.percentile(track.f0_hz[track.voiced], 5)) if track.voiced.any() else 150.0
    return float(np.clip(0.7 * low, 60.0, 150.0))


def search_threshold(vocal: NDArray, sample_rate: int, target_lra: float, *,
                     tolerance_lu: float = 0.5, offset_lu: float = 0.0, iterations: int = 14,
                     ratio: float = COMPRESSOR["ratio"], attack_ms: float = COMPRESSOR["attack_ms"],
                     release_ms: float = COMPRESSOR["release_ms"]
                     ) -> tuple[float | None, float, bool]:
    """Bisection on the compressor threshold (dBFS) for ``LRA(compressed) + offset_lu ==
    target_lra``. Returns (threshold or None for no compression, LRA reached, reachable)."""
    def lra_at(th):
        if th is None:
            return loudness.loudness_range(vocal, sample_rate) + offset_lu
        comp = CompressorSettings(th, ratio, attack_ms, release_ms)
        return loudness.loudness_range(apply_compressor(vocal, sample_rate, comp),
                                       sample_rate) + offset_lu

    top = loudness.sample_peak_dbfs(vocal)
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


def compress_to_range(vocal: NDArray, sample_rate: int, target_lra: float, reverb, *,
                      tolerance_lu: float = 0.5, ratio: float = COMPRESSOR["ratio"],
                      attack_ms: float = COMPRESSOR["attack_ms"],
                      release_ms: float = COMPRESSOR["release_ms"]):
    """Compressor threshold for which the *wet* vocal (compressor, then ``reverb``) has the
    target loudness range: searched on the dry vocal, with the reverb's effect on the range
    measured and taken as an offset for a second search when the first misses.

    Returns (threshold or None, range reached, reachable, the wet vocal at that threshold).
    """
    from vocalmix.dsp.chain import process_vocal
    from vocalmix.dsp.recipe import VocalRecipe

    offset = 0.0
    threshold, reached, ok, wet = None, float("nan"), False, None
    for _ in range(2):
        threshold, _, _ = search_threshold(vocal, sample_rate, target_lra,
                                           tolerance_lu=tolerance_lu, offset_lu=offset,
                                           ratio=ratio, attack_ms=attack_ms,
                                           release_ms=release_ms)
        comp = (None if threshold is None
                else CompressorSettings(threshold, ratio, attack_ms, release_ms))
        wet = process_vocal(vocal, sample_rate,
                            VocalRecipe(highpass_hz=None, compressor=comp, reverb=reverb))
        reached = loudness.loudness_range(wet, sample_rate)
        ok = abs(reached - target_lra) <= tolerance_lu
        if ok or not math.isfinite(reached):
            break
        offset = reached - loudness.loudness_range(apply_compressor(vocal, sample_rate, comp),
                                                   sample_rate)
    return threshold, reached, ok, wet


def room_for_t60(t60_s: float) -> tuple[float, float]:
    """(room_size, size) of the project's reverb for a mid-band T60 (s)."""
    lo_t = expected_t60(0.0, 1.0)
    if t60_s <= lo_t:
        size = max(RANGES["size"][0], t60_s / lo_t)
        return 0.0, size
    a, b = 0.0, RANGES["room_size"][1]
    for _ in range(40):
        m = 0.5 * (a + b)
        if expected_t60(m, 1.0) < t60_s:
            a = m
        else:
            b = m
    return 0.5 * (a + b), 1.0


def gain_for(vocal_stem: NDArray, backing_stem: NDArray, sample_rate: int,
              target: float) -> float:
    """Gain (dB) that brings the vocal stem's loudness to ``target`` LU over the backing's."""
    lv = loudness.integrated_loudness(vocal_stem, sample_rate)
    lb = loudness.integrated_loudness(backing_stem, sample_rate)
    if not (math.isfinite(lv) and math.isfinite(lb)):
        raise ValueError("the vocal or the backing is silent after processing")
    return float(np.clip(target - (lv - lb), -60.0, 40.0))
