"""Training-free separators, measured against the builtin network (``benchmarks/separation.py``).

* :func:`repet_sim` -- REPET-SIM (Rafii & Pardo, "Music/voice separation using the
  similarity matrix", ISMIR 2012): the accompaniment repeats, the voice does not. Each
  frame's backing magnitude is the median of the frames most similar to it (cosine
  similarity of magnitude spectra, at least ``min_distance_s`` apart); the backing mask is
  ``min(model, |X|) / |X|``, the vocal gets the rest. Bins below ``vocal_highpass_hz``
  (no singing there) go to the backing.
* :func:`oracle_masks` -- ideal ratio masks from the true stems: not a separator but the
  ceiling any STFT-mask method with the mixture's phase can reach, reported for context.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["repeating_model", "repet_sim", "oracle_masks", "apply_vocal_mask"]

N_FFT = 2048
HOP = 512


def _stft(x: NDArray) -> NDArray:
    """``(channels, F, T)`` complex STFT (Hann, centred) of ``(channels, samples)``."""
    from scipy.signal import ShortTimeFFT
    from scipy.signal.windows import hann

    sft = ShortTimeFFT(hann(N_FFT, sym=False), HOP, fs=1.0, scale_to="magnitude")
    return sft.stft(np.asarray(x, dtype=np.float64), axis=-1), sft


def apply_vocal_mask(mixture: NDArray, mask_fn) -> tuple[NDArray, NDArray]:
    """(vocal, backing): ``mask_fn(spec)`` gives the vocal mask of the mixture's spectra."""
    spec, sft = _stft(mixture)
    n = mixture.shape[-1]
    mask = mask_fn(spec)
    vocal = sft.istft(mask * spec, k1=n).astype(np.float32)
    vocal = vocal[..., :n]
    return vocal, (np.asarray(mixture, dtype=np.float32) - vocal)


def repeating_model(mag: NDArray, sample_rate: int, *, neighbours: int = 20,
                    min_distance_s: float = 0.3, block: int = 1024) -> NDArray:
    """REPET-SIM's model of the repeating background, ``min(model, |X|)``.

    ``mag`` is ``(channels, F, T)`` magnitude. Frames are compared by the cosine similarity
    of the channel-mean spectra; each frame's model is the per-bin median of the
    ``neighbours`` most similar frames (itself first), chosen greedily so that any two are at
    least ``min_distance_s`` apart.
    """
    mono = mag.mean(axis=0)
    T = mono.shape[1]
    unit = (mono / (np.linalg.norm(mono, axis=0, keepdims=True) + 1e-12)).astype(np.float32)
    min_dist = max(1, int(round(min_distance_s * sample_rate / HOP)))
    k = int(min(neighbours, T))
    model = np.empty_like(mag)
    for a in range(0, T, block):
        b = min(T, a + block)
        sim = unit[:, a:b].T @ unit  # (rows, T)
        order = np.argsort(-sim, axis=1, kind="stable")
        for i in range(b - a):
            chosen = _spaced(order[i], k, min_dist)
            model[:, :, a + i] = np.median(mag[:, :, chosen], axis=2)
    return np.minimum(model, mag)


def _spaced(order: NDArray, k: int, min_dist: int) -> list[int]:
    """The first ``k`` entries of ``order`` that are ``min_dist`` apart from all before."""
    chosen: list[int] = []
    for j in order:
        j = int(j)
        if all(abs(j - c) >= min_dist for c in chosen):
            chosen.append(j)
            if len(chosen) == k:
                break
    return chosen


def repet_sim(mixture: NDArray, sample_rate: int, *, neighbours: int = 20,
              min_distance_s: float = 0.3, vocal_highpass_hz: float = 100.0
              ) -> tuple[NDArray, NDArray]:
    """(vocal, backing) of a ``(channels, samples)`` mixture by REPET-SIM."""

    def mask_fn(spec: NDArray) -> NDArray:
        mag = np.abs(spec)
        model = repeating_model(mag, sample_rate, neighbours=neighbours,
                                min_distance_s=min_distance_s)
        vocal_mask = 1.0 - model / (mag + 1e-12)
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
        vocal_mask[:, freqs < vocal_highpass_hz, :] = 0.0
        return vocal_mask

    return apply_vocal_mask(mixture, mask_fn)


def oracle_masks(mixture: NDArray, vocal: NDArray, backing: NDArray
                 ) -> tuple[NDArray, NDArray]:
    """(vocal, backing) with the ideal ratio mask ``|V| / (|V| + |B|)`` (needs the truth)."""
    v_spec, _ = _stft(vocal)
    b_spec, _ = _stft(backing)

    def mask_fn(spec: NDArray) -> NDArray:
        v, b = np.abs(v_spec), np.abs(b_spec)
        return v / (v + b + 1e-12)

    return apply_vocal_mask(mixture, mask_fn)
