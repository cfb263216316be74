"""Musical key of a (backing) track: a harmonic chroma, a diatonic-scale match, and the
Krumhansl-Kessler profiles to name the tonic.

1. Harmonic part: the STFT magnitude (8192 points, 50 % overlap) is split by median
   filtering (Fitzgerald 2010): a bin belongs to the harmonic part where the median along
   time (9 frames) exceeds the median along frequency (9 bins) -- drums and noise, which
   would flatten the chroma, drop out.
2. Chroma: harmonic magnitude from 55 Hz to 4 kHz folded onto the 12 pitch classes
   (nearest equal-tempered note, A4 = 440 Hz), summed over the track.
3. Scale: of the 12 diatonic pitch-class sets, the one holding most chroma energy.
4. Tonic: of the scale's two keys (its major and its relative minor), the one whose
   Krumhansl-Kessler profile correlates best with the chroma.

The pitch corrector needs only the scale (relative keys share it); ``confidence`` is the
winning scale's share of chroma energy over the runner-up's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["KeyEstimate", "chroma", "detect_key", "KK_MAJOR", "KK_MINOR"]

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


@dataclass
class KeyEstimate:
    key: str
    mode: str
    confidence: float
    chroma: NDArray

    @property
    def scale(self) -> frozenset[int]:
        tonic = NOTE_NAMES.index(self.key)
        return frozenset((tonic + s) % 12 for s in SCALES[self.mode])


def chroma(audio: NDArray, sample_rate: float, *, n_fft: int = 8192) -> NDArray:
    """12-bin pitch-class profile of the harmonic part of ``audio``, summed over time."""
    from scipy import ndimage

    from vocalmix.measure.spectrum import frame_power

    mono = np.atleast_2d(audio).mean(axis=0)[None, :]
    freqs, power = frame_power(mono, sample_rate, n_fft=n_fft, hop=n_fft // 2)
    sel = (freqs >= 55.0) & (freqs <= 4000.0)
    mag = np.sqrt(power[:, sel])
    harmonic = ndimage.median_filter(mag, size=(9, 1)) > ndimage.median_filter(mag, size=(1, 9))
    weights = (mag * harmonic).sum(axis=0, dtype=np.float64)
    pcs = np.round(69 + 12 * np.log2(freqs[sel] / 440.0)).astype(int) % 12
    out = np.bincount(pcs, weights=weights, minlength=12)
    return out / (out.sum() + 1e-12)


def detect_key(audio: NDArray, sample_rate: float) -> KeyEstimate:
    """Key (tonic, mode) of ``audio``; see the module docstring."""
    c = chroma(audio, sample_rate)
    major = SCALES["major"]
    energy = np.array([sum(c[(r + s) % 12] for s in major) for r in range(12)])
    order = np.argsort(energy)[::-1]
    root = int(order[0])
    candidates = (("major", root), ("minor", (root + 9) % 12))
    r_major = float(np.corrcoef(c, np.roll(KK_MAJOR, root))[0, 1])
    r_minor = float(np.corrcoef(c, np.roll(KK_MINOR, (root + 9) % 12))[0, 1])
    mode, tonic = candidates[0] if r_major >= r_minor else candidates[1]
    confidence = float(energy[order[0]] / max(energy[order[1]], 1e-12) - 1.0)
    return KeyEstimate(key=NOTE_NAMES[tonic], mode=mode, confidence=confidence, chroma=c)
