"""Synthetic corruption of processed vocals (rule ``corrupt``; proposal IV.B).

A processed (wet, mixed) vocal is turned into something like a raw take, so that the
mixing decisions cannot be read off the model's input but are known exactly:

* **reverb** -- dereverberation by weighted prediction error (WPE, nara-wpe; 2048-point
  STFT, hop 512, 20 taps, prediction delay 2 frames, 3 iterations: among the best of the settings
  tried on the demo corpus, ``benchmarks/dereverb.py``) on the vocal's mid signal, the
  same for every version of a track (it is deterministic), in cross-faded 50-s blocks so that
  memory does not grow with the song (a 12-s demo song is one block;
  ``benchmarks/dereverb_memory.py``), within 0.25 dB SI-SDR of whole-song WPE on the demo
  songs (``benchmarks/dereverb.py --blocks``). Target: the GA-fitted reverb of
  the original (features stage). WPE removes what it can predict, so it can also eat into
  long steady notes; :func:`sustained_note_loss_db` measures that on a dry vocal.
* **EQ** -- a random parametric EQ: 1-4 peaking bands (100 Hz-10 kHz log-uniform, +/-2 to
  9 dB, Q 0.5-3 log-uniform) plus, half the time, a low shelf (150-400 Hz) or high shelf
  (4-10 kHz) of +/-2 to 6 dB. Target: the EQ that undoes it (same bands, negated gains --
  the exact inverse of these biquads) and the original's third-octave curve.
* **dynamics** -- a downward expander (pedalboard ``NoiseGate``): threshold 3-12 dB under
  the vocal's active RMS, ratio 1.5-4, attack 1-10 ms, release 50-250 ms: it widens the
  loudness range. Target: the original's EBU loudness range.
* **level** -- loudness normalisation to -23 LUFS, or lower where the sample peak would
  pass -1 dBFS (recorded as ``peak_limited``; a real wet vocal with a boosting EQ can).
  Target: the original vocal-to-backing ratio.

Each of ``versions`` corruptions per track draws its parameters from a seed derived from
the config seed, the track and the version, and saves them as JSON beside the audio; the
dereverberated vocal (before EQ, expander and level) is kept too, as the reference of the
held-out EQ evaluation and to listen to what WPE did.
"""

from __future__ import annotations

import logging
import math
from typing import Callable, Iterable, Iterator

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import db_to_gain
from vocalmix.config import schema_settings
from vocalmix.measure import loudness
from vocalmix.dsp.effects import EQBand, eq_plugins

log = logging.getLogger(__name__)

__all__ = ["CorruptionSettings", "RANGES", "WPE", "WPE_BLOCKS", "CORRUPT_BLOCK", "Reader",
           "dereverberate", "dereverberated_pieces", "random_eq", "inverse_eq", "expand",
           "corrupt", "corrupt_blocks", "sustained_note_loss_db", "note_loss_db", "wpe_stft",
           "wpe_istft"]


@schema_settings("corruption")
class CorruptionSettings:
    """Synthetic corruption of the processed vocals (config section ``corruption``;
    defaults from the schema): how many versions, whether WPE dereverberates first, and
    whether the stage also checks what WPE does to the notes of a dry vocal
    (:func:`note_loss_db`)."""

    versions: int
    dereverb: bool
    note_check: bool


NORMALISED_LUFS = -23.0
#: The highest sample peak a corrupted version may have: its gain to NORMALISED_LUFS stops
#: there (the demo generator's ceiling, :data:`vocalmix.corpus.demo.PEAK_CEILING`).
PEAK_CEILING_DBFS = -1.0
RANGES = {
    "peak_bands": (1, 4),
    "peak_frequency_hz": (100.0, 10000.0),
    "peak_gain_db": (2.0, 9.0),
    "peak_q": (0.5, 3.0),
    "shelf_probability": 0.5,
    "low_shelf_hz": (150.0, 400.0),
    "high_shelf_hz": (4000.0, 10000.0),
    "shelf_gain_db": (2.0, 6.0),
    "expander_depth_db": (3.0, 12.0),
    "expander_ratio": (1.5, 4.0),
    "expander_attack_ms": (1.0, 10.0),
    "expander_release_ms": (50.0, 250.0),
}
WPE = {"size": 2048, "shift": 512, "taps": 20, "delay": 2, "iterations": 3}
#: Blocks of :func:`dereverberate`: 50 s (a 12-s demo song is one block), 5 s overlap, 32
#: frequency bins filtered at a time. The shortest blocks tried (30, 45, 50, 55, 60 s; 5 or 10 s
#: overlap) whose SI-SDR and log-spectral distance stay within 0.3 dB of whole-song WPE on
#: every demo song of 75 s (worst SI-SDR loss 0.16 dB; 30 s: 0.59, 45 s: 0.32) and of 150 s
#: (0.25 dB), ``benchmarks/results/dereverb_blocks*.csv``. Filtering 32 bins at a time instead
#: of 128 (the same numbers) more than pays for the longer blocks: peak RSS of a 1-, 5- and
#: 10-minute song 547, 682 and 867 MB against 622, 741 and 892 MB with 30-s blocks at 128
#: (``benchmarks/results/dereverb_memory.csv``; the input and output arrays grow, the WPE does not).
WPE_BLOCKS = {"block_s": 50.0, "overlap_s": 5.0, "bins_per_chunk": 32}


def _wpe_by_bins(spec: NDArray[np.complex128], taps: int, delay: int, iterations: int,
                 bins_per_chunk: int) -> NDArray[np.complex128]:
    """nara-wpe's batched WPE (``wpe_v7``, ``statistics_mode="full"``, no PSD context) on a
    ``(bins, channels, frames)`` spectrogram, filtering ``bins_per_chunk`` frequency bins at a
    time so that the tapped copy of the signal (``taps`` times the spectrogram) is held for one
    chunk only.

    The numbers are nara-wpe's: the inverse power (and its floor, relative to the largest power
    of all bins) comes from the whole spectrogram of each iteration, and the correlations,
    solve and filter are per bin, so the result equals ``wpe(spec, ...)`` bit for bit.
    """
    from nara_wpe.wpe import (build_y_tilde, get_filter_matrix_v7, get_power_inverse,
                              perform_filter_operation_v5)

    x = spec
    for _ in range(iterations):
        inverse_power = get_power_inverse(x)  # (bins, frames), one floor for all bins
        filtered = np.empty_like(spec)
        for lo in range(0, spec.shape[0], bins_per_chunk):
            sel = slice(lo, lo + bins_per_chunk)
            y_tilde = build_y_tilde(spec[sel], taps, delay)
            g = get_filter_matrix_v7(Y=spec[sel], Y_tilde=y_tilde,
                                     inverse_power=inverse_power[sel])
            filtered[sel] = perform_filter_operation_v5(Y=spec[sel], Y_tilde=y_tilde,
                                                        filter_matrix=g)
        x = filtered
    return x


def _analysis_window(size: int) -> NDArray[np.float64]:
    """The periodic Blackman window of nara-wpe's STFT (``blackman(size + 1)[:-1]``), computed
    as scipy's ``general_cosine`` computes it, so the values are the same bit for bit."""
    fac = np.linspace(-np.pi, np.pi, size + 1)
    w = np.zeros(size + 1)
    for k, a in enumerate((0.42, 0.50, 0.08)):
        w += a * np.cos(k * fac)
    return w[:-1]


def _synthesis_window(window: NDArray, shift: int) -> NDArray[np.float64]:
    """The biorthogonal synthesis window of ``window`` at ``shift`` (its overlapping
    products with the analysis window sum to one), in nara-wpe's order of summation."""
    size = len(window)
    square = window ** 2
    denominator = np.zeros_like(window)
    for i in range(-((size - 1) // shift), (size - 1) // shift + 1):
        moved = np.zeros_like(square)
        if i >= 0:
            moved[shift * i:] = square[:size - shift * i]
        else:
            moved[:size + shift * i] = square[-shift * i:]
        denominator += moved
    return window / denominator


def wpe_stft(signal: NDArray, size: int, shift: int) -> NDArray[np.complex128]:
    """nara-wpe's STFT (``nara_wpe.utils.stft`` with its defaults: periodic Blackman window,
    ``size - shift`` zeros of fading on both sides, the end padded to a whole frame) of a
    ``(channels, samples)`` signal: ``(channels, frames, size // 2 + 1)``, the same numbers
    without importing scipy.signal (nara-wpe's module does, for 0.7 CPU-s per corrupt job)."""
    x = np.asarray(signal, dtype=np.float64)
    fade = size - shift
    n = x.shape[-1] + 2 * fade
    frames = 1 if n <= size else -(-(n - size) // shift) + 1
    padded = np.zeros(x.shape[:-1] + ((frames - 1) * shift + size,))
    padded[..., fade:fade + x.shape[-1]] = x
    segments = np.lib.stride_tricks.sliding_window_view(padded, size, axis=-1)[..., ::shift, :]
    return np.fft.rfft(segments * _analysis_window(size), n=size, axis=-1)


def wpe_istft(spec: NDArray, size: int, shift: int) -> NDArray[np.float64]:
    """The inverse of :func:`wpe_stft` as nara-wpe computes it (``nara_wpe.utils.istft``:
    the biorthogonal synthesis window, overlap-add frame by frame in order, the fading cut):
    ``(channels, samples)``."""
    frames = np.fft.irfft(spec)[..., :size] * _synthesis_window(_analysis_window(size), shift)
    out = np.zeros(spec.shape[:-2] + (spec.shape[-2] * shift + size - shift,))
    for k in range(spec.shape[-2]):  # each sample sums its frames in their order
        out[..., k * shift:k * shift + size] += frames[..., k, :]
    return out[..., size - shift:out.shape[-1] - (size - shift)]


def _dereverberate_block(audio: NDArray, p: dict, bins_per_chunk: int) -> NDArray[np.float64]:
    """WPE of the mid signal of one block ``(channels, samples)``; ``(1, samples)`` float64."""
    mono = np.asarray(audio, dtype=np.float64).mean(axis=0, keepdims=True)
    spec = wpe_stft(mono, p["size"], p["shift"])  # (1, frames, bins)
    out = _wpe_by_bins(spec.transpose(2, 0, 1), p["taps"], p["delay"], p["iterations"],
                       bins_per_chunk).transpose(1, 2, 0)
    y = wpe_istft(out, p["size"], p["shift"])[:, : mono.shape[1]]
    if y.shape[1] < mono.shape[1]:
        y = np.pad(y, ((0, 0), (0, mono.shape[1] - y.shape[1])))
    return y


#: ``read(k)``: the next ``k`` samples ``(channels, k)`` of a signal read from its start
Reader = Callable[[int], NDArray]


def _array_reader(audio: NDArray) -> Reader:
    """A :data:`Reader` over the samples of ``audio`` ``(channels, samples)``."""
    x = np.atleast_2d(audio)
    pos = 0

    def read(k: int) -> NDArray:
        nonlocal pos
        pos += k
        return x[:, pos - k:pos]
    return read


def dereverberated_pieces(read: Reader, n_samples: int, sample_rate: int, *,
                          block_s: float | None = None, overlap_s: float | None = None,
                          bins_per_chunk: int | None = None,
                          **wpe_kw) -> Iterator[NDArray[np.float32]]:
    """:func:`dereverberate` of a signal of ``n_samples`` read by ``read`` (a
    :data:`Reader`, e.g. over a file) from its start: successive ``(1, samples)`` float32
    pieces of the result, together ``n_samples`` long, equal bit for bit to
    :func:`dereverberate` of the whole signal. The signal is read once, in order, and no more
    than one block of it and of the result is held at a time."""
    p = {**WPE, **wpe_kw}
    blocks = {**WPE_BLOCKS, **{k: v for k, v in {"block_s": block_s, "overlap_s": overlap_s,
                                                 "bins_per_chunk": bins_per_chunk}.items()
                               if v is not None}}
    n = int(n_samples)
    block_n = int(round(blocks["block_s"] * sample_rate))
    overlap_n = int(round(blocks["overlap_s"] * sample_rate))
    chunk = int(blocks["bins_per_chunk"])
    if not 0 < overlap_n < block_n:
        raise ValueError(f"need 0 < overlap_s < block_s, got {blocks}")
    if n <= block_n:
        yield _dereverberate_block(read(n), p, chunk).astype(np.float32)
        return
    starts = [*range(0, n - block_n, block_n - overlap_n), n - block_n]
    fade_in = np.sin(0.5 * np.pi * (np.arange(overlap_n) + 0.5) / overlap_n) ** 2
    buf, buf_start = read(block_n), 0  # the input samples [buf_start, buf_start + block_n)
    tail: tuple[int, NDArray[np.float64]] | None = None  # the previous block's fade-out
    for k, start in enumerate(starts):
        stop = start + block_n
        if start > buf_start:  # starts increase by less than a block: keep the overlap
            buf = np.concatenate([buf[:, start - buf_start:], read(start - buf_start)], axis=1)
            buf_start = start
        y = _dereverberate_block(buf, p, chunk)
        pos = start
        parts = []
        if tail is not None:
            t0, prev = tail
            parts.append(prev * (1.0 - fade_in)
                         + y[:, t0 - start:t0 - start + overlap_n] * fade_in)
            pos = t0 + overlap_n
        end = stop if k == len(starts) - 1 else stop - overlap_n
        parts.append(y[:, pos - start:end - start])
        yield np.concatenate(parts, axis=1).astype(np.float32)
        tail = (end, y[:, end - start:].copy())
        del y, parts  # not held while the next block is dereverberated


def dereverberate(audio: NDArray, sample_rate: int, *, block_s: float | None = None,
                  overlap_s: float | None = None, bins_per_chunk: int | None = None,
                  **wpe_kw) -> NDArray[np.float32]:
    """WPE dereverberation of the mid (channel-mean) signal in blocks of bounded memory.

    Parameters
    ----------
    audio : ndarray
        ``(channels, samples)`` or ``(samples,)``.
    sample_rate : int
        Hz.
    block_s, overlap_s, bins_per_chunk : float, float, int, optional
        Block length and overlap (s) and frequency bins filtered at a time; defaults from
        :data:`WPE_BLOCKS`. A signal no longer than one block is one block (the demo's 12-s
        songs): the result is then exactly whole-signal WPE. Longer signals are cut into
        blocks ``block_s`` long starting every ``block_s - overlap_s`` (the last one ending
        with the signal), each dereverberated with its own statistics, and cross-faded
        (sine-squared, summing to one) over the last ``overlap_s`` of each block; the start of
        a block, where WPE has no past frames, is under the fade-in.
    **wpe_kw
        Overrides of :data:`WPE` (``size``, ``shift``, ``taps``, ``delay``, ``iterations``).

    Returns
    -------
    ndarray
        ``(1, samples)`` float32. Peak memory is that of one block on top of the input and
        output, whatever the signal's length; :func:`dereverberated_pieces` gives the same
        result piece by piece from a signal that is read, not held.
    """
    x = np.atleast_2d(audio)
    out = np.empty((1, x.shape[1]), dtype=np.float32)
    pos = 0
    for piece in dereverberated_pieces(_array_reader(x), x.shape[1], sample_rate,
                                       block_s=block_s, overlap_s=overlap_s,
                                       bins_per_chunk=bins_per_chunk, **wpe_kw):
        out[:, pos:pos + piece.shape[1]] = piece
        pos += piece.shape[1]
    return out


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def random_eq(rng: np.random.Generator) -> list[EQBand]:
    """A random parametric EQ from :data:`RANGES`."""
    bands = []
    for _ in range(int(rng.integers(RANGES["peak_bands"][0], RANGES["peak_bands"][1] + 1))):
        gain = float(rng.uniform(*RANGES["peak_gain_db"])) * float(rng.choice([-1.0, 1.0]))
        bands.append(EQBand("peak", _log_uniform(rng, *RANGES["peak_frequency_hz"]), gain,
                            _log_uniform(rng, *RANGES["peak_q"])))
    if rng.uniform() < RANGES["shelf_probability"]:
        low = rng.uniform() < 0.5
        f = _log_uniform(rng, *(RANGES["low_shelf_hz"] if low else RANGES["high_shelf_hz"]))
        gain = float(rng.uniform(*RANGES["shelf_gain_db"])) * float(rng.choice([-1.0, 1.0]))
        bands.append(EQBand("low_shelf" if low else "high_shelf", f, gain, 0.707))
    return bands


def inverse_eq(bands: list[EQBand]) -> list[EQBand]:
    """The EQ that undoes ``bands``: the same filters with negated gains (for these biquads
    the responses are exact reciprocals), in reverse order."""
    return [EQBand(b.type, b.frequency_hz, -b.gain_db, b.q) for b in reversed(bands)]


def expand(audio: NDArray, sample_rate: int, threshold_db: float, ratio: float,
           attack_ms: float, release_ms: float) -> NDArray[np.float32]:
    """Downward expansion below ``threshold_db`` (pedalboard ``NoiseGate``)."""
    import pedalboard as pb

    gate = pb.NoiseGate(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms,
                        release_ms=release_ms)
    return gate(np.ascontiguousarray(audio, dtype=np.float32), float(sample_rate), reset=True)


#: Samples per block of :func:`corrupt_blocks` (12 s at 44.1 kHz: 2 MB of mono float32)
CORRUPT_BLOCK = 1 << 19


def _processed(source: Callable[[], Iterable[NDArray]], sample_rate: int,
               plugins: list) -> Iterator[NDArray[np.float32]]:
    """The blocks of one pass over ``source()`` through pedalboard ``plugins``, their state
    carried from block to block (``reset=False`` after the first): the same samples as the
    plugins give the whole signal at once."""
    import pedalboard as pb

    board = pb.Pedalboard(plugins)
    for i, block in enumerate(source()):
        x = np.ascontiguousarray(block, dtype=np.float32)
        yield board(x, float(sample_rate), reset=i == 0) if plugins else x


def corrupt_blocks(source: Callable[[], Iterable[NDArray]], sample_rate: int,
                   rng: np.random.Generator,
                   sink: Callable[[NDArray[np.float32]], None] | None = None) -> dict:
    """One corrupted version of a (dereverberated) vocal, block by block, and its parameters.

    Parameters
    ----------
    source : callable
        Each call starts a new pass over the vocal: an iterable of its successive
        ``(channels, samples)`` blocks (any lengths, e.g. :data:`CORRUPT_BLOCK` read from
        ``dereverberated.flac``). The vocal is never held whole: the statistics the
        corruption needs are taken in passes of their own (the peak and the active RMS of
        the EQ'd vocal for the expander's threshold, the integrated loudness of the expanded
        one for the level), each remaking the EQ (and the expander) from the source.
    sample_rate : int
    rng : numpy Generator
        Draws the parameters, in the order :func:`corrupt` always drew them.
    sink : callable, optional
        Receives the corrupted audio, float32 block by block, in order; without it only the
        parameters are made (three passes instead of four).

    Returns
    -------
    dict
        The parameters (JSON-ready), as :func:`corrupt` returns them.
    """
    import pedalboard as pb

    eq = random_eq(rng)
    # the expander's threshold: the active RMS of the EQ'd vocal -- samples above 1e-3 of
    # its peak (a first pass) -- less a random depth
    peak, channels = None, 1
    for x in _processed(source, sample_rate, eq_plugins(eq)):
        channels = x.shape[0]
        if x.size:
            m = np.abs(x).max()
            peak = m if peak is None else max(peak, m)
    energy, count = 0.0, 0
    if peak is not None:
        floor = 1e-3 * peak
        for x in _processed(source, sample_rate, eq_plugins(eq)):
            a = np.abs(x)
            sel = a > floor if peak > 0 else a > 0
            energy += float(np.sum(x[sel].astype(np.float64) ** 2))
            count += int(np.count_nonzero(sel))
    mean_square = energy / count if count else math.nan
    depth = float(rng.uniform(*RANGES["expander_depth_db"]))
    exp = {"threshold_db": float(20 * np.log10(np.sqrt(mean_square) + 1e-12)) - depth,
           "ratio": float(rng.uniform(*RANGES["expander_ratio"])),
           "attack_ms": float(rng.uniform(*RANGES["expander_attack_ms"])),
           "release_ms": float(rng.uniform(*RANGES["expander_release_ms"]))}

    def expanded() -> Iterator[NDArray[np.float32]]:
        return _processed(source, sample_rate, [*eq_plugins(eq), pb.NoiseGate(**exp)])

    # the level: integrated loudness of the expanded vocal (a pass of the streaming meter),
    # and its peak: a take is never louder than full scale allows, so the gain to
    # NORMALISED_LUFS stops where the peak would pass PEAK_CEILING_DBFS (a real wet vocal
    # with a boosting EQ can: MUSDB's Falcon 69 would peak at +0.7 dBFS)
    top = 0.0

    def metered() -> Iterator[NDArray[np.float32]]:
        nonlocal top
        for x in expanded():
            if x.size:
                top = max(top, float(np.abs(x).max()))
            yield x

    lufs = loudness.analyse_blocks(metered(), sample_rate, channels).integrated_lufs
    gain_db = NORMALISED_LUFS - lufs if math.isfinite(lufs) else 0.0
    peak_limited = top > 0 and 20 * math.log10(top) + gain_db > PEAK_CEILING_DBFS
    if peak_limited:
        gain_db = PEAK_CEILING_DBFS - 20 * math.log10(top)
    if sink is not None:
        gain = np.float32(db_to_gain(gain_db))
        for x in expanded():
            sink((x * gain).astype(np.float32))
    return {"eq": [b.to_dict() for b in eq], "inverse_eq": [b.to_dict() for b in inverse_eq(eq)],
            "expander": exp,
            "normalised_lufs": (lufs + gain_db if peak_limited and math.isfinite(lufs)
                                else NORMALISED_LUFS),
            "gain_db": gain_db, "peak_limited": bool(peak_limited), "dereverb": dict(WPE)}


def corrupt(dereverberated: NDArray, sample_rate: int, rng: np.random.Generator
            ) -> tuple[NDArray[np.float32], dict]:
    """One corrupted version of a (dereverberated) vocal ``(channels, samples)`` and its
    parameters: :func:`corrupt_blocks` of the array, in :data:`CORRUPT_BLOCK` blocks.

    The random EQ (pedalboard biquads), then a downward expander whose threshold is the EQ'd
    vocal's active RMS less a random depth, then a gain to :data:`NORMALISED_LUFS`."""
    x = np.atleast_2d(dereverberated)
    out = np.empty(x.shape, dtype=np.float32)
    pos = 0

    def sink(block: NDArray) -> None:
        nonlocal pos
        out[:, pos:pos + block.shape[1]] = block
        pos += block.shape[1]

    params = corrupt_blocks(lambda: (x[:, i:i + CORRUPT_BLOCK]
                                     for i in range(0, x.shape[1], CORRUPT_BLOCK)),
                            sample_rate, rng, sink)
    return out, params


def note_loss_db(read: Reader, read_again: Reader, n_samples: int, sample_rate: int,
                 notes: list[dict], min_duration_s: float = 1.0) -> dict:
    """:func:`sustained_note_loss_db` of a dry vocal of ``n_samples`` that is read (twice,
    in step: ``read`` feeds WPE, ``read_again`` gives the dry level), never held whole: the
    same figures, bit for bit. Only the samples of the notes being measured are kept."""
    spans = []  # (first sample, end, sustained?) of each measured note, in the notes' order
    for n in notes:
        a = int((n["onset_s"] + 0.3 * n["duration_s"]) * sample_rate)
        b = int((n["onset_s"] + 0.9 * n["duration_s"]) * sample_rate)
        if b - a < int(0.05 * sample_rate):
            continue
        spans.append((a, b, n["duration_s"] >= min_duration_s))
    wet: list[list[NDArray]] = [[] for _ in spans]
    dry: list[list[NDArray]] = [[] for _ in spans]
    change: dict[int, float] = {}

    def measure(i: int) -> None:
        y = np.concatenate(wet[i]) if wet[i] else np.zeros(0, np.float32)
        x = np.concatenate(dry[i]) if dry[i] else np.zeros(0, np.float32)
        change[i] = float(10 * np.log10(np.mean(y.astype(np.float64) ** 2)
                                        / max(np.mean(x.astype(np.float64) ** 2), 1e-20)))
        wet[i], dry[i] = [], []

    pos = 0
    for piece in dereverberated_pieces(read, n_samples, sample_rate):
        m = piece.shape[1]
        mid = np.atleast_2d(read_again(m)).mean(axis=0)
        for i, (a, b, _) in enumerate(spans):
            lo, hi = max(a, pos), min(b, pos + m)
            if lo < hi:
                wet[i].append(piece[0, lo - pos:hi - pos])
                dry[i].append(mid[lo - pos:hi - pos])
        pos += m
        for i, (_, b, _) in enumerate(spans):
            if i not in change and b <= pos:
                measure(i)
    for i in range(len(spans)):
        if i not in change:  # notes running past the end of the signal
            measure(i)
    out: dict[str, list[float]] = {"sustained": [], "short": []}
    for i, (_, _, sustained) in enumerate(spans):
        out["sustained" if sustained else "short"].append(change[i])
    return {k: {"n": len(v), "median_db": float(np.median(v)) if v else None,
                "min_db": float(np.min(v)) if v else None} for k, v in out.items()}


def sustained_note_loss_db(dry: NDArray, sample_rate: int, notes: list[dict],
                           min_duration_s: float = 1.0) -> dict:
    """What WPE does to sung notes: the level change (dB) in the middle of notes at least
    ``min_duration_s`` long (sustained) and of shorter ones, dereverberating a *dry* vocal
    (anything lost there is signal, not reverberation). :func:`note_loss_db` measures the
    same of a vocal read from a file."""
    x = np.atleast_2d(dry)
    return note_loss_db(_array_reader(x), _array_reader(x), x.shape[1], sample_rate, notes,
                        min_duration_s)
