"""Separation quality: SDR and SI-SDR, and the trivial baselines they are compared with.

Both measures take a reference ``s`` and an estimate ``s_hat`` of shape ``(channels,
samples)`` (or 1-D) and pool over all channels and samples, as museval's track-level
"uSDR" does:

* **SDR** -- the plain signal-to-distortion ratio, ``10 log10(||s||^2 / ||s - s_hat||^2)``
  (the SiSEC 2021 / Music Demixing Challenge "new SDR"; *not* BSS Eval v4's filtered SDR,
  which allows a 512-tap distortion filter and reads higher).
* **SI-SDR** -- scale-invariant SDR (Le Roux, Wisdom, Erdogan & Hershey, "SDR -- half-baked
  or well done?", ICASSP 2019): the estimate is projected on the reference, ``a = <s_hat, s>
  / ||s||^2``, and ``SI-SDR = 10 log10(||a s||^2 / ||a s - s_hat||^2)``. Any gain error of
  the estimate leaves it unchanged, so the mixture and half the mixture score the same.

Both are in dB; a tiny ``eps`` keeps them finite for silent references or perfect estimates.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["sdr", "si_sdr", "BASELINES", "baseline_estimates", "score"]

EPS = 1e-10


def _pair(reference: NDArray, estimate: NDArray) -> tuple[NDArray, NDArray]:
    s = np.asarray(reference, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    if s.ndim == 1:
        s = s[None]
    if e.ndim == 1:
        e = e[None]
    if s.shape[0] != e.shape[0]:
        if e.shape[0] == 1:
            e = np.repeat(e, s.shape[0], axis=0)
        elif s.shape[0] == 1:
            e = e.mean(axis=0, keepdims=True)
        else:
            raise ValueError(f"channel mismatch: reference {s.shape}, estimate {e.shape}")
    n = min(s.shape[1], e.shape[1])
    if abs(s.shape[1] - e.shape[1]) > 0.01 * max(s.shape[1], e.shape[1]) + 1:
        raise ValueError(f"length mismatch: reference {s.shape[1]}, estimate {e.shape[1]} samples")
    return s[:, :n], e[:, :n]


def sdr(reference: NDArray, estimate: NDArray) -> float:
    """Plain SDR (dB): ``10 log10(||s||^2 / ||s - s_hat||^2)`` over all channels."""
    s, e = _pair(reference, estimate)
    num = float(np.sum(s * s))
    den = float(np.sum((s - e) ** 2))
    return 10.0 * math.log10((num + EPS) / (den + EPS))


def si_sdr(reference: NDArray, estimate: NDArray) -> float:
    """Scale-invariant SDR (dB), Le Roux et al. 2019, over all channels jointly."""
    s, e = _pair(reference, estimate)
    a = float(np.sum(e * s)) / (float(np.sum(s * s)) + EPS)
    target = a * s
    num = float(np.sum(target * target))
    den = float(np.sum((target - e) ** 2))
    return 10.0 * math.log10((num + EPS) / (den + EPS))


#: Trivial estimates every separator must beat: the mixture itself, and half the mixture
#: (a constant 0.5 mask) for both sources.
BASELINES = ("mixture", "half_mixture")


def baseline_estimates(mixture: NDArray, name: str) -> tuple[NDArray, NDArray]:
    """(vocal, backing) estimates of a trivial baseline."""
    mixture = np.asarray(mixture, dtype=np.float32)
    if name == "mixture":
        return mixture, mixture
    if name == "half_mixture":
        return 0.5 * mixture, 0.5 * mixture
    raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")


def score(vocal: NDArray, backing: NDArray, vocal_hat: NDArray, backing_hat: NDArray) -> dict:
    """SDR and SI-SDR of both sources: keys ``{vocal,backing}_{sdr,si_sdr}_db``."""
    return {
        "vocal_sdr_db": sdr(vocal, vocal_hat),
        "vocal_si_sdr_db": si_sdr(vocal, vocal_hat),
        "backing_sdr_db": sdr(backing, backing_hat),
        "backing_si_sdr_db": si_sdr(backing, backing_hat),
    }
