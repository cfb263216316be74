"""The few filters the mixing path needs, without ``import scipy.signal``.

``import scipy.signal`` takes 0.5-0.9 s on the project's 2-core reference machine (it loads
scipy.stats, interpolate and optimize and rewrites hundreds of docstrings), which is a
sixth to a quarter of the whole time budget of ``vocalmix mix`` on a 3-minute song, and
most of ``vocalmix loudness``'s and ``vocalmix reverb-fit``'s start-up. What the mixing
path uses from it is small:

* :func:`sosfilt`: second-order sections, run by scipy's own compiled kernel (the
  extension module ``scipy.signal._sosfilt`` needs only numpy; it is loaded from its file
  on its own where ``scipy.signal`` is not imported yet, else from ``scipy.signal``), so
  the samples are those of :func:`scipy.signal.sosfilt`;
* :func:`first_order_sos`: first-order Butterworth high- and low-passes in closed form
  (bilinear with pre-warping; the coefficients of ``scipy.signal.butter(1, ...)`` within
  rounding);
* :func:`kaiser_lowpass`: a Kaiser-windowed sinc low-pass normalised to unit gain at DC
  (``scipy.signal.firwin`` with ``window=("kaiser", beta)``), the true-peak meter's
  interpolator;
* :func:`butter_bandpass_sos`: Butterworth band-passes of any order (``scipy.signal.butter``
  with ``btype="bandpass"``), the octave bands of the room descriptors
  (:mod:`vocalmix.measure.reverb`);
* :func:`sosfilt_zi` and :func:`sosfiltfilt`: steady-state initial conditions and the
  zero-phase forward-backward filter with scipy's default odd extension
  (``scipy.signal.sosfilt_zi``, ``scipy.signal.sosfiltfilt``), the blind reverberation
  estimate's mid band (:mod:`vocalmix.measure.reverb_blind`), which the rule-based mixer
  reads to judge a take's wetness.

``tests/unit/test_kernels.py`` checks each against scipy.signal.
"""

from __future__ import annotations

import math
import sys
from functools import lru_cache
from importlib import import_module
from typing import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["sosfilt_kernel", "sosfilt", "sosfilt_inplace", "first_order_sos", "kaiser_lowpass",
           "butter_bandpass_sos", "sosfilt_zi", "sosfiltfilt", "sosfiltfilt_padlen"]


@lru_cache(maxsize=1)
def sosfilt_kernel() -> Callable[[NDArray, NDArray, NDArray], None]:
    """scipy's compiled second-order-section kernel ``_sosfilt(sos, x, zi)``.

    It filters the C-contiguous rows of ``x`` ``(signals, samples)`` in place, carrying the
    states ``zi`` ``(signals, sections, 2)`` (also in place; ``sos``, ``x`` and ``zi`` of
    one float dtype), and releases the GIL. Where ``scipy.signal`` is not loaded yet its
    extension module is loaded from its file on its own; any surprise (another scipy
    layout) falls back to the ordinary import.
    """
    if "scipy.signal" not in sys.modules:
        try:
            import importlib.machinery
            import importlib.util
            from pathlib import Path

            import scipy

            folder = Path(scipy.__file__).parent / "signal"
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = folder / f"_sosfilt{suffix}"
                if path.is_file():
                    spec = importlib.util.spec_from_file_location("scipy.signal._sosfilt",
                                                                  path)
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    return module._sosfilt
        except Exception:  # noqa: BLE001 -- any failure: the documented import below
            pass
    return import_module("scipy.signal._sosfilt")._sosfilt


def sosfilt(sos: NDArray, x: NDArray, *, zi: NDArray | None = None
            ) -> NDArray[np.float64] | tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Filter the last axis of ``x`` by the second-order sections ``sos`` ``(n, 6)``.

    Computed in float64 (as :func:`scipy.signal.sosfilt` does for float32 input and float64
    sections). ``zi``: initial states ``(..., n, 2)`` (``x``'s leading shape); with it, the
    final states are returned as well. Each section's ``a0`` must be 1.
    """
    s = np.ascontiguousarray(sos, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != 6:
        raise ValueError(f"sos must have shape (n_sections, 6), got {s.shape}")
    if not np.allclose(s[:, 3], 1.0):
        raise ValueError("each section's a0 must be 1")
    x = np.asarray(x)
    lead = x.shape[:-1]
    y = np.array(x, dtype=np.float64, order="C", ndmin=1).reshape(-1, x.shape[-1])
    if zi is None:
        z = np.zeros((y.shape[0], s.shape[0], 2))
    else:
        z = np.array(zi, dtype=np.float64, order="C").reshape(y.shape[0], s.shape[0], 2)
    if y.shape[1]:
        sosfilt_kernel()(s, y, z)
    y = y.reshape(*lead, x.shape[-1])
    return y if zi is None else (y, z.reshape(*lead, s.shape[0], 2))


def sosfilt_inplace(sos: NDArray, x: NDArray) -> None:
    """Filter the rows of ``x`` ``(signals, samples)`` -- C-contiguous float32 or float64 --
    in place, in ``x``'s own precision, from zero states (no copy of the signal: the send of
    a 3-minute stereo reverb is 63 MB in float32, 127 MB more as float64). Float32 is
    enough for low-order filters far from DC (the reverb's send: within 4e-7 of float64)."""
    if x.ndim != 2 or not x.flags.c_contiguous or x.dtype not in (np.float32, np.float64):
        raise ValueError("x must be a C-contiguous float32 or float64 (signals, samples) array")
    s = np.ascontiguousarray(sos, dtype=x.dtype)
    if s.ndim != 2 or s.shape[1] != 6 or not np.allclose(s[:, 3], 1.0):
        raise ValueError("sos must have shape (n_sections, 6) with each a0 = 1")
    if x.shape[1]:
        sosfilt_kernel()(s, x, np.zeros((x.shape[0], s.shape[0], 2), dtype=x.dtype))


def first_order_sos(cutoff_hz: float, btype: str, sample_rate: float) -> NDArray[np.float64]:
    """A first-order Butterworth ``"low"``- or ``"high"``-pass as one section ``(1, 6)``:
    the analogue prototype at the pre-warped cutoff, bilinear transform (-3 dB at
    ``cutoff_hz``)."""
    if not 0 < cutoff_hz < sample_rate / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz outside (0, {sample_rate / 2}) Hz")
    k = math.tan(math.pi * cutoff_hz / sample_rate)
    a1 = (k - 1.0) / (k + 1.0)
    if btype == "low":
        b = (k / (1.0 + k), k / (1.0 + k))
    elif btype == "high":
        b = (1.0 / (1.0 + k), -1.0 / (1.0 + k))
    else:
        raise ValueError(f"btype must be 'low' or 'high', got {btype!r}")
    return np.array([[b[0], b[1], 0.0, 1.0, a1, 0.0]])


def kaiser_lowpass(n_taps: int, cutoff: float, beta: float) -> NDArray[np.float64]:
    """Linear-phase FIR low-pass: ``n_taps`` of a sinc at ``cutoff`` (a fraction of the
    Nyquist frequency), Kaiser window ``beta``, scaled to unit gain at DC."""
    if not 0 < cutoff < 1:
        raise ValueError(f"cutoff must be within (0, 1) of Nyquist, got {cutoff}")
    m = np.arange(n_taps) - (n_taps - 1) / 2.0
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(n_taps, beta)
    return h / h.sum()


def butter_bandpass_sos(order: int, low_hz: float, high_hz: float,
                        sample_rate: float) -> NDArray[np.float64]:
    """Butterworth band-pass of ``order`` (``2 * order`` poles) as sections ``(order, 6)``, the
    design of ``scipy.signal.butter(order, [low_hz, high_hz], btype="bandpass",
    output="sos")``: the analogue prototype's poles moved to the pre-warped band, bilinear
    transform. Each section holds one conjugate pole pair and the zeros +1 and -1 (the
    gain goes to the first; the poles nearest the unit circle last). The sections are
    grouped differently from scipy's, so filtered samples agree with scipy's to rounding
    (the response is the same filter)."""
    if not 0 < low_hz < high_hz < sample_rate / 2:
        raise ValueError(f"band [{low_hz}, {high_hz}] Hz must lie within (0, "
                         f"{sample_rate / 2}) Hz")
    # pre-warped edges, on scipy's scale (bilinear transform with fs = 2)
    lo, hi = (4.0 * math.tan(math.pi * f / sample_rate) for f in (low_hz, high_hz))
    bw, wo2 = hi - lo, lo * hi
    if bw * bw >= 4.0 * wo2:
        raise ValueError("band too wide: its poles would be real (edges over 5.8:1)")
    proto = -np.exp(1j * math.pi * np.arange(-order + 1, order, 2) / (2 * order))
    half = proto * bw / 2.0
    root = np.sqrt(half * half - wo2)
    analogue = np.concatenate([half + root, half - root])
    poles = (4.0 + analogue) / (4.0 - analogue)
    gain = float(np.real(bw**order * 4.0**order / np.prod(4.0 - analogue)))
    upper = poles[poles.imag > 0]
    upper = upper[np.argsort(np.abs(upper))]
    sos = np.zeros((order, 6))
    sos[:, 0], sos[:, 2], sos[:, 3] = 1.0, -1.0, 1.0
    sos[:, 4], sos[:, 5] = -2.0 * upper.real, np.abs(upper) ** 2
    sos[0, :3] *= gain
    return sos


def sosfilt_zi(sos: NDArray) -> NDArray[np.float64]:
    """Initial states ``(n_sections, 2)`` of :func:`sosfilt` for a unit step's steady state
    (``scipy.signal.sosfilt_zi``): each section's ``lfilter_zi`` -- the solution of
    ``(I - A.T) zi = b[1:] - a[1:] b[0]`` with ``A`` the companion matrix of its
    denominator -- scaled by the DC gain of the sections before it."""
    s = np.asarray(sos, dtype=np.float64)
    zi = np.empty((s.shape[0], 2))
    scale = 1.0
    for k, (b, a) in enumerate(zip(s[:, :3], s[:, 3:])):
        b, a = b / a[0], a / a[0]
        companion = np.array([[-a[1], -a[2]], [1.0, 0.0]])
        zi[k] = scale * np.linalg.solve(np.eye(2) - companion.T, b[1:] - a[1:] * b[0])
        scale *= b.sum() / a.sum()
    return zi


def sosfiltfilt_padlen(sos: NDArray) -> int:
    """The odd extension at each end :func:`sosfiltfilt` uses (scipy's default ``padlen``)."""
    s = np.asarray(sos)
    zeros = min(int((s[:, 2] == 0).sum()), int((s[:, 5] == 0).sum()))
    return 3 * (2 * s.shape[0] + 1 - zeros)


def sosfiltfilt(sos: NDArray, x: NDArray) -> NDArray[np.float64]:
    """Zero-phase filtering of the last axis of ``x`` (1-D or 2-D), forwards then backwards,
    from steady-state initial conditions, after extending the signal at each end by its odd
    reflection (``scipy.signal.sosfiltfilt(sos, x)`` with its defaults, in float64)."""
    x = np.asarray(x, dtype=np.float64)
    edge = sosfiltfilt_padlen(sos)
    if x.shape[-1] <= edge:
        raise ValueError(f"the signal has {x.shape[-1]} samples; filtering forwards and "
                         f"backwards needs more than {edge}")
    ext = np.concatenate([2.0 * x[..., :1] - x[..., edge:0:-1], x,
                          2.0 * x[..., -1:] - x[..., -2:-(edge + 2):-1]], axis=-1)
    zi = sosfilt_zi(sos)
    lead = ext.shape[:-1]
    z0 = zi * ext[..., :1, None] if lead else zi * ext[0]
    y, _ = sosfilt(sos, ext, zi=np.broadcast_to(z0, (*lead, *zi.shape)))
    y = y[..., ::-1]
    z0 = zi * y[..., :1, None] if lead else zi * y[0]
    y, _ = sosfilt(sos, y, zi=np.broadcast_to(z0, (*lead, *zi.shape)))
    return np.ascontiguousarray(y[..., ::-1][..., edge:-edge])


def decimate(x: NDArray, factor: int, *, taps_per_factor: int = 10,
             beta: float = 6.0) -> NDArray[np.float32]:
    """Every ``factor``-th sample of ``x`` (1-D) after a linear-phase Kaiser low-pass at 0.9
    of the new Nyquist frequency (``taps_per_factor * factor + 1`` taps, delay compensated):
    ``ceil(len(x) / factor)`` float32 samples, only the kept outputs computed.

    ``out[i] = sum_k h[k] xp[i * factor + k]`` (``xp``: ``x`` after ``n_taps // 2`` zeros),
    summed tap by tap in float32. The padded input is laid out once as its ``factor``
    phases, ``phase[j][i] = xp[i * factor + j]``, so that tap ``k`` reads the contiguous
    ``phase[k % factor][k // factor:]``, and the taps are summed over blocks of
    :data:`DECIMATE_BLOCK` outputs that stay in the processor's cache: the same sums in the
    same order as reading ``xp`` with a stride for each tap over the whole signal (the same
    samples, bit for bit), three times faster on a 3-minute take."""
    x = np.asarray(x, dtype=np.float32)
    if factor <= 1:
        return x.copy()
    n_taps = taps_per_factor * factor + 1
    h = kaiser_lowpass(n_taps, 0.9 / factor, beta).astype(np.float32)
    half = n_taps // 2
    m = -(-x.size // factor)
    # xp: half zeros, x, then zeros to whole rows of ``factor`` covering every tap's reads
    rows = -(-(half + x.size + half + factor) // factor)
    xp = np.zeros(rows * factor, dtype=np.float32)
    xp[half: half + x.size] = x
    phases = xp.reshape(rows, factor).T.copy()  # (factor, rows), each phase contiguous
    del xp
    out = np.zeros(m, dtype=np.float32)
    term = np.empty(min(DECIMATE_BLOCK, m), dtype=np.float32)
    for a in range(0, m, DECIMATE_BLOCK):
        b = min(a + DECIMATE_BLOCK, m)
        acc, t = out[a:b], term[: b - a]
        for k in range(n_taps):
            q, j = divmod(k, factor)
            np.multiply(phases[j, q + a: q + b], h[k], out=t)
            acc += t
    return out


#: Outputs per block of :func:`decimate` (64 kB of float32 per array: in L2 cache).
DECIMATE_BLOCK = 1 << 14
