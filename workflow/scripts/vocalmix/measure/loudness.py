"""Loudness after ITU-R BS.1770-4/-5 and EBU Tech 3341/3342.

* K-weighting (BS.1770 eq. 1, Tables 1 and 2) designed at the signal's own sample rate:
  each 48 kHz biquad is mapped back through the bilinear transform to its analogue
  prototype and re-discretised with pre-warping at that prototype's own frequency, so the
  48 kHz coefficients are reproduced exactly and other rates get the same response
  (no resampling to 48 kHz). Filtering is float64 (float32 state is measurably wrong).
* Channel weights (BS.1770 Table 3): L, R, C = 1.0; Ls, Rs = 1.41; LFE excluded.
* The filtered power is accumulated per *hop* (10 ms or finer, chosen so the 400 ms and 3 s
  windows and the 100 ms gating step are whole numbers of hops), which gives the momentary
  (400 ms) and short-term (3 s) series at a 10 ms hop -- fine enough for the maximum-
  momentary cases 13/14 of Tech 3341 -- and the gating blocks of BS.1770 eq. 4-7 exactly.
* Integrated loudness: 400 ms blocks, 75 % overlap, absolute gate -70 LKFS, relative gate
  -10 LU (BS.1770 eq. 5-7, strict ``>``); incomplete blocks at the end are discarded.
* Loudness range: EBU Tech 3342 -- 3 s windows at 10 Hz over the signal followed by 1.5 s
  of silence, absolute gate -70 LUFS, relative gate -20 LU (``>=``), nearest-rank 10th and
  95th percentiles exactly as in the Tech 3342 MATLAB reference.
* Files are analysed in a stream (constant memory) by :func:`analyse_file`.

Undefined results (digital silence, nothing above the gates) are ``-inf`` for loudness
levels and ``nan`` for the loudness range; they never raise. A signal shorter than one
400 ms block raises :class:`vocalmix.audio.AudioError`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import AudioError, peak_abs
from vocalmix.kernels import sosfilt_kernel

__all__ = [
    "LoudnessResult",
    "k_weighting_sos",
    "channel_weights",
    "analyse",
    "analyse_file",
    "analyse_blocks",
    "BlockMeter",
    "integrated_loudness",
    "loudness_range",
    "momentary_loudness",
    "short_term_loudness",
    "sample_peak_dbfs",
    "true_peak_dbtp",
    "lra_from_short_term",
    "active_span",
]

# BS.1770 Table 1 (stage 1, head-related high shelf) and Table 2 (stage 2, RLB high-pass),
# both specified at 48 kHz.
_STAGE1_48K = ((1.53512485958697, -2.69169618940638, 1.19839281085285),
               (1.0, -1.69065929318241, 0.73248077421585))
_STAGE2_48K = ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621))
_REF_RATE = 48000.0

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
BLOCK_S = 0.4
SHORT_TERM_S = 3.0
GATE_STEP_S = 0.1
LRA_PAD_S = 1.5


def _prototype(b: Sequence[float], a: Sequence[float], fs: float):
    """Invert the bilinear transform of a normalised biquad.

    With ``K = tan(pi f0 / fs)`` and ``H(s) = (n0 s^2 + n1 s + n2) / (s^2 + s/Q + 1)`` in
    ``s`` normalised to ``2 pi f0``, return ``(f0, Q, (n0, n1, n2))``.
    """
    b0, b1, b2 = (x / a[0] for x in b)
    a1, a2 = a[1] / a[0], a[2] / a[0]
    k2 = (1.0 + a1 + a2) / (1.0 - a1 + a2)
    k = math.sqrt(k2)
    k_over_q = 2.0 * (1.0 - a2) / (1.0 - a1 + a2)
    d = 1.0 + k_over_q + k2  # a0 before normalisation
    m0, m1, m2 = b0 * d, b1 * d, b2 * d
    n0 = (m0 + m2 - m1) / 4.0
    n1 = (m0 - m2) / (2.0 * k)
    n2 = (m0 + m1 + m2) / (4.0 * k2)
    f0 = fs * math.atan(k) / math.pi
    return f0, k / k_over_q, (n0, n1, n2)


def _discretise(f0: float, q: float, n: tuple[float, float, float], fs: float) -> NDArray:
    """Bilinear transform (pre-warped at ``f0``) of the prototype: one SOS row."""
    k = math.tan(math.pi * f0 / fs)
    n0, n1, n2 = n
    d = 1.0 + k / q + k * k
    b = np.array([n0 + n1 * k + n2 * k * k, -2.0 * n0 + 2.0 * n2 * k * k,
                  n0 - n1 * k + n2 * k * k]) / d
    a = np.array([1.0, 2.0 * (k * k - 1.0) / d, (1.0 - k / q + k * k) / d])
    return np.concatenate([b, a])


@lru_cache(maxsize=32)
def _k_sos(sample_rate: float) -> NDArray:
    rows = [_discretise(*_prototype(b, a, _REF_RATE), sample_rate)
            for b, a in (_STAGE1_48K, _STAGE2_48K)]
    sos = np.vstack(rows)
    sos.setflags(write=False)
    return sos


def k_weighting_sos(sample_rate: float) -> NDArray[np.float64]:
    """K-weighting filter as second-order sections ``(2, 6)`` for ``sample_rate``."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return _k_sos(float(sample_rate)).copy()


def channel_weights(n_channels: int) -> NDArray[np.float64]:
    """BS.1770 channel weights for 1, 2, 3, 5 (L R C Ls Rs) or 6 (L R C LFE Ls Rs) channels."""
    table = {1: [1.0], 2: [1.0, 1.0], 3: [1.0, 1.0, 1.0], 4: [1.0, 1.0, 1.41, 1.41],
             5: [1.0, 1.0, 1.0, 1.41, 1.41], 6: [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]}
    if n_channels not in table:
        raise ValueError(f"no BS.1770 channel weights for {n_channels} channels (1-6 supported)")
    return np.asarray(table[n_channels])


@dataclass(frozen=True)
class _Grid:
    """Sample counts of the hop and of every window, for one sample rate.

    The hop divides the 400 ms and 3 s windows exactly. The 100 ms gating step is a whole
    number of hops at all common rates (8, 16, 22.05, 32, 44.1, 48, 88.2, 96 kHz); at
    rates where 100 ms is not a whole number of hops it is rounded to the nearest hop.
    """

    hop: int
    block: int  # 400 ms
    short: int  # 3 s
    step_hops: int  # 100 ms, in hops

    @property
    def block_hops(self) -> int:
        return self.block // self.hop

    @property
    def short_hops(self) -> int:
        return self.short // self.hop


@lru_cache(maxsize=32)
def _grid(sample_rate: float, max_hop_s: float = 0.01) -> _Grid:
    block = int(round(BLOCK_S * sample_rate))
    short = int(round(SHORT_TERM_S * sample_rate))
    step = GATE_STEP_S * sample_rate
    g = math.gcd(block, short)
    limit = max(1, int(max_hop_s * sample_rate + 1e-9))
    divisors = [d for d in range(1, min(g, limit) + 1) if g % d == 0]
    exact = [d for d in divisors if abs(step / d - round(step / d)) < 1e-9]
    hop = max(exact) if exact and max(exact) >= max(divisors) / 4 else max(divisors)
    return _Grid(hop=hop, block=block, short=short, step_hops=max(1, int(round(step / hop))))


class _PowerAccumulator:
    """Streams audio through the K-filter and sums channel-weighted power per hop.

    A chunk's channels are filtered in worker threads (scipy's ``sosfilt`` kernel releases
    the GIL) when the chunk is long enough for that to pay off, and :meth:`add` returns
    before they finish: the caller reads the next chunk meanwhile. A chunk must stay
    unchanged until the next :meth:`add` (or :meth:`hop_energy`) returns; a reader that
    alternates two buffers does that.
    """

    PARALLEL_MIN_SAMPLES = 1 << 17

    def __init__(self, sample_rate: float, n_channels: int,
                 weights: Sequence[float] | None = None, threads: int = 2):
        self.sample_rate = float(sample_rate)
        self.grid = _grid(self.sample_rate)
        self.sos = k_weighting_sos(self.sample_rate)
        self.weights = (channel_weights(n_channels) if weights is None
                        else np.asarray(weights, dtype=np.float64))
        if len(self.weights) != n_channels:
            raise ValueError(f"{len(self.weights)} channel weights for {n_channels} channels")
        self.n_channels = n_channels
        self.zi = [np.zeros((1, self.sos.shape[0], 2)) for _ in range(n_channels)]
        self._sosfilt = sosfilt_kernel()
        self.rest = [np.zeros(0) for _ in range(n_channels)]
        self.hops: list[NDArray] = []
        self.n_samples = 0
        self.peak = 0.0
        self.threads = max(1, min(threads, n_channels))
        self._pool = None
        self._pending: tuple[list, str | None] | None = None

    def _channel(self, c: int, x: NDArray) -> tuple[NDArray, float]:
        """K-filter one channel's chunk: its whole-hop power sums (unweighted) and its
        sample peak (NaN when it holds a NaN or infinity)."""
        y = np.array(x, dtype=np.float64, order="C", ndmin=2)  # a copy, filtered in place
        if x.dtype.kind == "i":  # full-scale integers (see analyse_file): exact in float64
            y *= 2.0 ** (1 - 8 * x.dtype.itemsize)
        peak = max(float(np.max(y)), -float(np.min(y)))  # NaN/inf propagate
        if not math.isfinite(peak):
            return np.zeros(0), math.nan
        self._sosfilt(self.sos, y, self.zi[c])
        power = np.square(y[0], out=y[0])
        if self.rest[c].size:
            power = np.concatenate([self.rest[c], power])
        hop = self.grid.hop
        whole = (power.size // hop) * hop
        self.rest[c] = power[whole:].copy()
        return power[:whole].reshape(-1, hop).sum(axis=1), peak

    def _collect(self) -> None:
        """Wait for the chunk in flight and append its weighted hop sums."""
        if self._pending is None:
            return
        results, name = self._pending
        self._pending = None
        parts = [r.result() if hasattr(r, "result") else r for r in results]
        peak = max(p for _, p in parts) if all(math.isfinite(p) for _, p in parts) else math.nan
        if not math.isfinite(peak):
            raise AudioError(name, "contains NaN or infinite samples")
        self.peak = max(self.peak, peak)
        total = None
        for w, (part, _) in zip(self.weights, parts):
            if w:
                total = w * part if total is None else total + w * part
        self.hops.append(total if total is not None else np.zeros_like(parts[0][0]))

    def add(self, chunk: NDArray, name: str | None = None) -> None:
        """``chunk``: ``(channels, samples)`` of any float dtype (rows may be strided).

        Raises AudioError (naming ``name``) on NaN or infinite samples, at the latest when
        the next chunk is added or the hop energies are taken.
        """
        self._collect()
        if chunk.shape[1] == 0:
            return
        self.n_samples += chunk.shape[1]
        if chunk.shape[1] >= self.PARALLEL_MIN_SAMPLES:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.threads)
            results = [self._pool.submit(self._channel, c, chunk[c])
                       for c in range(self.n_channels)]
        else:
            results = [self._channel(c, chunk[c]) for c in range(self.n_channels)]
        self._pending = (results, name)
        if self._pool is None:
            self._collect()

    def close(self) -> None:
        """Stop the worker threads (the chunk in flight is abandoned)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self._pending = None

    def hop_energy(self) -> NDArray[np.float64]:
        try:
            self._collect()
        finally:
            self.close()
        return np.concatenate(self.hops) if self.hops else np.zeros(0)


def _window_sums(hop_energy: NDArray, width: int) -> NDArray:
    if hop_energy.size < width:
        return np.zeros(0)
    cs = np.concatenate([[0.0], np.cumsum(hop_energy)])
    return cs[width:] - cs[:-width]


def _to_lufs(mean_square: NDArray | float) -> NDArray | float:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(mean_square)


def _gated_integrated(block_mean_square: NDArray) -> float:
    """BS.1770 eq. 4-7 on the mean squares (channel-weighted) of the gating blocks."""
    if block_mean_square.size == 0:
        return -math.inf
    lk = _to_lufs(block_mean_square)
    above_abs = lk > ABSOLUTE_GATE_LUFS
    if not np.any(above_abs):
        return -math.inf
    gamma_r = float(_to_lufs(np.mean(block_mean_square[above_abs]))) + RELATIVE_GATE_LU
    keep = above_abs & (lk > gamma_r)
    if not np.any(keep):
        return -math.inf
    return float(_to_lufs(np.mean(block_mean_square[keep])))


def lra_from_short_term(short_term_lufs: NDArray) -> float:
    """EBU Tech 3342 loudness range of a short-term loudness series (3 s windows, >= 10 Hz)."""
    st = np.asarray(short_term_lufs, dtype=np.float64)
    st = st[st >= ABSOLUTE_GATE_LUFS]
    if st.size == 0:
        return math.nan
    integrated = 10.0 * np.log10(np.mean(np.power(10.0, st / 10.0)))
    st = np.sort(st[st >= integrated + LRA_RELATIVE_GATE_LU])
    if st.size == 0:
        return math.nan
    n = st.size
    # nearest rank as in the Tech 3342 MATLAB code: index round((n-1)*p/100 + 1), 1-based,
    # with MATLAB's round (half away from zero)
    lo = st[int(math.floor((n - 1) * 10 / 100.0 + 0.5))]
    hi = st[int(math.floor((n - 1) * 95 / 100.0 + 0.5))]
    return float(hi - lo)


@dataclass
class LoudnessResult:
    """All loudness measures of one signal.

    ``momentary_lufs`` and ``short_term_lufs`` are series at ``hop_s`` (10 ms or finer);
    value k is the window that *ends* at ``times_s[k]`` (start + window length).
    """

    sample_rate: float
    duration_s: float
    hop_s: float
    integrated_lufs: float
    loudness_range_lu: float
    max_momentary_lufs: float
    max_short_term_lufs: float
    sample_peak_dbfs: float
    momentary_lufs: NDArray = field(repr=False)
    short_term_lufs: NDArray = field(repr=False)
    #: channel-weighted mean square of each 400 ms gating block (BS.1770-4 eq. 1-2)
    block_mean_square: NDArray = field(repr=False)
    block_step_s: float = GATE_STEP_S

    def momentary_times_s(self) -> NDArray:
        return BLOCK_S + self.hop_s * np.arange(self.momentary_lufs.size)

    def short_term_times_s(self) -> NDArray:
        return SHORT_TERM_S + self.hop_s * np.arange(self.short_term_lufs.size)

    def integrated_lufs_at_gain(self, gain_db: float) -> float:
        """The integrated loudness of this signal scaled by ``gain_db``, from its gating
        blocks (the gates judge the scaled blocks, as a measurement of the scaled signal
        would; equal to it up to rounding)."""
        return _gated_integrated(self.block_mean_square * 10.0 ** (gain_db / 10.0))

    def summary(self) -> dict:
        return {
            "integrated_lufs": self.integrated_lufs,
            "loudness_range_lu": self.loudness_range_lu,
            "max_momentary_lufs": self.max_momentary_lufs,
            "max_short_term_lufs": self.max_short_term_lufs,
            "sample_peak_dbfs": self.sample_peak_dbfs,
        }


def _finish(acc: _PowerAccumulator, name: str | None) -> LoudnessResult:
    grid = acc.grid
    if acc.n_samples < grid.block:
        raise AudioError(name, f"signal is {acc.n_samples / acc.sample_rate:.3f} s long; a "
                               f"loudness measurement needs at least one {BLOCK_S * 1000:.0f} ms block")
    hops = acc.hop_energy()
    momentary_mean_square = _window_sums(hops, grid.block_hops) / grid.block
    short_mean_square = _window_sums(hops, grid.short_hops) / grid.short
    gating_mean_square = momentary_mean_square[:: grid.step_hops]
    integrated = _gated_integrated(gating_mean_square)
    pad = int(round(LRA_PAD_S * acc.sample_rate / grid.hop))
    lra_windows = _window_sums(np.concatenate([hops, np.zeros(pad)]), grid.short_hops)
    lra = lra_from_short_term(_to_lufs(lra_windows[:: grid.step_hops] / grid.short))
    momentary = np.asarray(_to_lufs(momentary_mean_square))
    short = np.asarray(_to_lufs(short_mean_square))
    return LoudnessResult(
        sample_rate=acc.sample_rate,
        duration_s=acc.n_samples / acc.sample_rate,
        hop_s=grid.hop / acc.sample_rate,
        integrated_lufs=integrated,
        loudness_range_lu=lra,
        max_momentary_lufs=float(np.max(momentary)) if momentary.size else -math.inf,
        max_short_term_lufs=float(np.max(short)) if short.size else math.nan,
        sample_peak_dbfs=float(20.0 * np.log10(acc.peak)) if acc.peak > 0 else -math.inf,
        momentary_lufs=momentary,
        short_term_lufs=short,
        block_mean_square=gating_mean_square,
        block_step_s=grid.step_hops * grid.hop / acc.sample_rate,
    )


def analyse(audio: NDArray, sample_rate: float, *, weights: Sequence[float] | None = None,
            name: str | None = None, chunk_s: float = 10.0) -> LoudnessResult:
    """Every loudness measure of ``audio`` ``(channels, samples)`` at ``sample_rate``.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)]
        Mono, stereo, 3-, 5- (L R C Ls Rs) or 6-channel (with LFE, excluded) audio.
    sample_rate : float
        The signal's own rate; nothing is resampled.
    weights : sequence of float, optional
        Channel weights overriding BS.1770 Table 3.
    name : str, optional
        Used in error messages (e.g. the file name).
    """
    audio = np.asarray(audio)
    if audio.ndim != 2:
        raise AudioError(name, f"expected (channels, samples), got shape {audio.shape}")
    acc = _PowerAccumulator(sample_rate, audio.shape[0], weights)
    step = max(1, int(chunk_s * sample_rate) // acc.grid.hop) * acc.grid.hop
    try:
        for start in range(0, audio.shape[1], step):
            acc.add(audio[:, start:start + step], name)
        return _finish(acc, name)
    finally:
        acc.close()


class BlockMeter:
    """:func:`analyse` of a signal handed over block by block: :meth:`add` each
    ``(channels, samples)`` block in order, then :meth:`result` -- the same figures as
    :func:`analyse` of their concatenation, in constant memory. For a producer of several
    signals at once (a separator's two stems), which :func:`analyse_blocks` would need one
    iterator per signal for.

    A block must not be changed until the next :meth:`add` (or :meth:`result`) returns:
    a block of at least 2 ** 17 samples has its channels filtered in worker threads while
    the caller goes on. Use it as a context manager, or :meth:`close` it, to release them
    when :meth:`result` is never reached.
    """

    def __init__(self, sample_rate: float, n_channels: int, *,
                 weights: Sequence[float] | None = None, name: str | None = None):
        self.n_channels, self.name = n_channels, name
        self._acc = _PowerAccumulator(sample_rate, n_channels, weights)

    def add(self, block: NDArray) -> None:
        """The signal's next ``(channels, samples)`` block (any length)."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self.n_channels:
            raise AudioError(self.name, f"expected ({self.n_channels}, samples) blocks, got "
                                        f"shape {block.shape}")
        self._acc.add(block, self.name)

    def result(self) -> LoudnessResult:
        """Every measure of the signal so far (AudioError for one shorter than a 400 ms
        block); the meter is closed."""
        try:
            return _finish(self._acc, self.name)
        finally:
            self.close()

    def close(self) -> None:
        self._acc.close()

    def __enter__(self) -> "BlockMeter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def analyse_blocks(blocks: Iterable[NDArray], sample_rate: float, n_channels: int, *,
                   weights: Sequence[float] | None = None,
                   name: str | None = None) -> LoudnessResult:
    """:func:`analyse` of a signal given as successive ``(channels, samples)`` blocks of any
    lengths (e.g. made block by block by a stream of effects), in constant memory: the same
    figures as :func:`analyse` of their concatenation. A block must not be changed after it
    is passed on (it may still be filtered while the next one is made)."""
    with BlockMeter(sample_rate, n_channels, weights=weights, name=name) as meter:
        for block in blocks:
            meter.add(block)
        return meter.result()


#: libsndfile subtypes whose samples :func:`analyse_file` reads as (full-scale) integers
_PCM_READ_DTYPES = {"PCM_16": np.int16, "PCM_24": np.int32}


def analyse_file(path: str, *, chunk_s: float = 10.0) -> LoudnessResult:
    """Stream a file (any format soundfile reads) through :func:`analyse` in constant memory.

    The file is opened through :func:`vocalmix.audio.open_audio`, so a missing, damaged,
    truncated or empty file raises :class:`~vocalmix.audio.AudioError` naming it, as every
    other reader of audio does.
    """
    from vocalmix.audio import open_audio

    with open_audio(path) as stream:
        acc = _PowerAccumulator(stream.sample_rate, stream.channels)
        # whole hops per chunk, so no partial hop is carried between chunks
        block = max(1, int(chunk_s * stream.sample_rate) // acc.grid.hop) * acc.grid.hop
        # two buffers: the file is read into one while the other's channels are filtered
        # (a chunk stays untouched until the next add returns); NaN/inf are reported by the
        # accumulator (it sees every sample anyway)
        # 16- and 24-bit PCM read as integers (a copy, not libsndfile's float conversion,
        # which costs as much as the K-filter), scaled in the filter's threads to the same
        # values: a 16- or 24-bit sample over its full scale is exact in float32 and float64
        dtype = _PCM_READ_DTYPES.get(stream.subtype, np.float32)
        buffers = [np.empty((min(block, stream.frames), stream.channels), dtype=dtype)
                   for _ in range(2)]
        try:
            for k in itertools.count():
                data = stream.read_into(buffers[k % 2])
                if data.shape[0] == 0:
                    break
                acc.add(data.T, str(path))
            return _finish(acc, str(path))
        finally:
            acc.close()


def active_span(audio: NDArray, threshold_dbfs: float = ABSOLUTE_GATE_LUFS) -> tuple[int, int]:
    """``(start, stop)`` samples of the part of ``audio`` between its leading and trailing
    silence: from the first to just after the last sample whose magnitude (any channel)
    exceeds ``threshold_dbfs``; ``(0, 0)`` when no sample does.

    The default threshold is BS.1770's absolute gate (-70): what lies outside the span could
    never pass that gate on its own. The meter itself follows Tech 3342 to the letter, so a
    signal padded with silence has short-term windows that are partly silent at its edges
    (above the gates, and counted) and a wider loudness range; an analysis of *a vocal take*
    that should not depend on how much silence surrounds it (the rule-based mixer's) measures
    ``audio[:, start:stop]``.
    """
    x = np.atleast_2d(np.asarray(audio))
    if x.size == 0:
        return 0, 0
    level = 10.0 ** (threshold_dbfs / 20.0)
    n, chunk = x.shape[1], 1 << 16

    def loud(a: int, b: int) -> NDArray:  # indices of loud samples in [a, b)
        return np.flatnonzero((np.abs(x[:, a:b]) > level).any(axis=0)) + a

    # scanned in chunks from each end: a take that starts and ends with sound costs two
    # chunks, not a pass over the whole signal
    start = next((int(i[0]) for a in range(0, n, chunk) if (i := loud(a, a + chunk)).size),
                 None)
    if start is None:
        return 0, 0
    stop = next(int(i[-1]) + 1 for b in range(n, 0, -chunk)
                if (i := loud(max(0, b - chunk), b)).size)
    return start, stop


def integrated_loudness(audio: NDArray, sample_rate: float) -> float:
    """Gated integrated loudness (LUFS) per BS.1770-4; ``-inf`` when nothing passes the gates."""
    return analyse(audio, sample_rate).integrated_lufs


def loudness_range(audio: NDArray, sample_rate: float) -> float:
    """EBU Tech 3342 loudness range (LU); ``nan`` when undefined."""
    return analyse(audio, sample_rate).loudness_range_lu


def momentary_loudness(audio: NDArray, sample_rate: float) -> tuple[NDArray, NDArray]:
    """(end times s, momentary loudness LUFS) at a 10 ms (or finer) hop, ungated."""
    r = analyse(audio, sample_rate)
    return r.momentary_times_s(), r.momentary_lufs


def short_term_loudness(audio: NDArray, sample_rate: float) -> tuple[NDArray, NDArray]:
    """(end times s, short-term loudness LUFS) at a 10 ms (or finer) hop, ungated."""
    r = analyse(audio, sample_rate)
    return r.short_term_times_s(), r.short_term_lufs


def sample_peak_dbfs(audio: NDArray) -> float:
    peak = peak_abs(audio)
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


@lru_cache(maxsize=8)
def _true_peak_filter(factor: int, taps_per_phase: int = 12) -> NDArray:
    from vocalmix.kernels import kaiser_lowpass

    n = factor * taps_per_phase
    return (kaiser_lowpass(n, 1.0 / factor, 5.0) * factor).astype(np.float32)


#: Samples per channel from which :func:`true_peak_dbtp` measures the channels in threads.
_TRUE_PEAK_PARALLEL_SAMPLES = 1 << 18


def true_peak_dbtp(audio: NDArray, sample_rate: float, chunk: int = 1 << 16) -> float:
    """True peak (dBTP) per BS.1770 Annex 2: oversample to >= 176.4 kHz, take the peak.

    The interpolator is a 4-phase, 48-tap Kaiser-windowed low-pass (12 taps per phase, the
    order of BS.1770 Annex 2's example filter) run in float32; it meets the EBU Tech 3341
    true-peak cases 15-23 (+0.2/-0.4 dB). Every output of the whole-signal interpolation
    (as ``upfirdn`` gives it, ends included) is covered, but only where it can matter: an
    interpolated sample cannot exceed the largest input sample under the filter times the
    largest absolute sum of a filter phase, so the outputs are taken in runs of ``chunk``
    input steps, loudest run first, and the rest skipped once that bound falls to the peak
    found. A run's four phases are twelve multiply-adds each over contiguous samples (no
    gathered windows). Runs of 2 ** 16 samples: few enough numpy calls that the two channel
    threads barely wait for each other (a fully limited 3-minute stereo mix, where every
    run must be interpolated: 0.16 s, against 0.37 s in runs of 2 ** 14 and 0.21-0.26 s on
    one thread).
    """
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    if audio.size == 0:
        return -math.inf
    factor = 4 if sample_rate <= 48000 else 2 if sample_rate <= 96000 else 1
    peak = peak_abs(audio)
    if factor == 1 or peak == 0:
        return 20.0 * math.log10(peak) if peak > 0 else -math.inf
    h = _true_peak_filter(factor)
    taps = len(h) // factor
    # coef[j, p] multiplies xp[m + j] for output phase p of step m, where xp is x after
    # taps - 1 zeros of history: y[m * factor + p] = sum_k h[p + k * factor] x[m - k]
    coef = np.stack([h[p::factor] for p in range(factor)], axis=1)[::-1].copy()
    bound = float(np.abs(coef).sum(axis=0).max())
    n = audio.shape[1]
    rows = n + taps - 1  # output steps m of the whole-signal interpolation
    n_runs = -(-rows // chunk)
    # xp: x with taps - 1 zeros before it and zeros after, to whole runs plus one; never
    # made whole (issue 19: no copy of the song), read a run at a time by ``padded``
    def padded(c: int, a: int, b: int) -> NDArray:
        """xp[c, a:b]."""
        out = np.zeros(b - a, dtype=np.float32)
        lo, hi = max(a - (taps - 1), 0), min(b - (taps - 1), n)
        if hi > lo:
            out[lo + taps - 1 - a: hi + taps - 1 - a] = audio[c, lo:hi]
        return out

    # run r reads xp[r * chunk : (r + 1) * chunk + taps - 1]: within runs r and r + 1
    group = max(1, (1 << 19) // chunk)  # runs per block of the level scan (2 MB per thread)

    def channel_peak(c: int) -> float:
        """The largest of ``peak`` and channel ``c``'s interpolated magnitudes."""
        level = np.empty(n_runs + 1, dtype=np.float32)
        for g in range(0, n_runs + 1, group):
            k = min(group, n_runs + 1 - g)
            block = padded(c, g * chunk, (g + k) * chunk)
            level[g:g + k] = np.abs(block, out=block).reshape(k, chunk).max(axis=1)
        reach = np.maximum(level[:-1], level[1:]) * bound
        top = peak
        for r in np.argsort(-reach, kind="stable"):
            if reach[r] <= top:
                break
            seg = padded(c, int(r) * chunk, (int(r) + 1) * chunk + taps - 1)
            for p in range(factor):
                acc = coef[0, p] * seg[:chunk]
                for j in range(1, taps):
                    acc += coef[j, p] * seg[j: j + chunk]
                top = max(top, float(acc.max()), -float(acc.min()))
        return top

    # the channels in threads where there are several and they are long (numpy releases the
    # GIL in its loops): each skips the runs that cannot exceed its own peak so far, and
    # what is skipped cannot exceed the result, so the maximum is the same number
    if audio.shape[0] > 1 and n > _TRUE_PEAK_PARALLEL_SAMPLES:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(audio.shape[0], 2)) as pool:
            peak = max(pool.map(channel_peak, range(audio.shape[0])))
    else:
        peak = max(channel_peak(c) for c in range(audio.shape[0]))
    return 20.0 * math.log10(peak)
