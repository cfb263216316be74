"""Vocal-activity detection scored against reference singing intervals (issue 24, item 2).

The project's definition of *vocal active* is the one of
:func:`vocalmix.features.extract.active_blocks`: a 400 ms BS.1770 gating block (hop
``block_step_s``, 100 ms) is active when its loudness is above -70 LUFS and within
``gate_lu`` (config ``features.gate_lu``, -20 LU) of the signal's integrated loudness. This
module puts that decision and a reference (e.g. the lyric-line timings of the Jamendo
corpus: when the voice sings a line) on one regular time grid and counts frame agreement.

The grid
    Frame ``k`` spans ``[k * hop_s, (k + 1) * hop_s)`` and is represented by its centre
    ``(k + 0.5) * hop_s``; a signal of ``d`` seconds has ``floor(d / hop_s)`` frames (only
    whole frames: a trailing partial frame is dropped).

Reference labels (:func:`reference_labels`)
    A frame is active when its centre lies in some reference interval ``[start, end)``.

Detector labels (:func:`block_labels`, :func:`detector_labels`)
    Gating blocks overlap (400 ms long, every 100 ms), so a frame lies under several. With
    ``mapping="centre"`` (the default, fixed before any real data was scored) a frame takes
    the label of the block whose centre (``j * block_step_s + block_s / 2``) is nearest to
    the frame's centre, ties to the earlier block; frames before the first or after the last
    block centre take the first or last block's label: each block's decision is put at its
    own time. At the default gate (-20 LU) a block next to a steady sound turns active once
    about 1 % of it (4 ms) is covered, so an isolated sound of the song's typical level is
    labelled from about ``block_s / 2`` before to ``block_s / 2`` after it: on the 100 ms
    grid 100 ms early and 200 ms late (the tie to the earlier block delays the labels by
    half a frame); a collar of 0.5 s absorbs that. Two other mappings are offered: ``"all"``, a frame is active only when every block
    whose span ``[j * block_step_s, j * block_step_s + block_s)`` holds its centre is active
    (an isolated steady sound keeps its own extent; a quiet one is narrowed), and ``"any"``,
    when any such block is active (the union of the active blocks' spans: each run widens by
    about ``block_s`` at each end; favours recall).

Scores (:func:`frame_scores`)
    Frame precision, recall and F1 of the detector against the reference, and the fraction
    of frames each labels active. ``collar_s`` leaves out of the count every frame whose
    centre lies strictly within ``collar_s`` of a reference boundary (a change of the
    reference labels, placed at the edge between the two frames); ``collar_s=0`` (the
    default) excludes nothing, i.e. plain frame F1. A collar forgives onset and offset
    imprecision in the reference and the 400 ms blocks' smearing; the song's start and end
    are not boundaries.

Lyric-line files are untrusted input: :func:`read_intervals` refuses files over
``MAX_BYTES`` and raises :class:`ValueError` naming the file and the problem (missing
column, non-numeric, non-finite or negative time, end before start).
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vocalmix.files import read_text_bounded
from vocalmix.measure import loudness

__all__ = ["MAX_BYTES", "DEFAULT_HOP_S", "MAPPINGS", "FrameScores", "read_intervals",
           "merge_intervals", "frame_count", "reference_labels", "block_labels",
           "detector_labels", "boundary_mask", "frame_scores"]

#: largest lyric-line file :func:`read_intervals` accepts (bytes): a song's lines take a few kB
MAX_BYTES = 4 * 1024 * 1024
#: default hop of the evaluation grid (s)
DEFAULT_HOP_S = 0.1
#: ways :func:`block_labels` maps gating blocks onto grid frames
MAPPINGS = ("centre", "all", "any")
START_COLUMN = "start_time"
END_COLUMN = "end_time"


@dataclass(frozen=True)
class FrameScores:
    """Frame agreement of a detector with a reference (:func:`frame_scores`).

    Attributes
    ----------
    precision, recall, f1 : float
        Over the scored frames; NaN where undefined (no detected frame for precision, no
        reference frame for recall, neither for F1).
    ref_active_fraction, det_active_fraction : float
        Fraction of the scored frames the reference and the detector label active.
    n_frames : int
        Frames scored.
    n_excluded : int
        Frames left out by the collar.
    """

    precision: float
    recall: float
    f1: float
    ref_active_fraction: float
    det_active_fraction: float
    n_frames: int
    n_excluded: int

    def to_dict(self) -> dict:
        """The scores as a plain dict."""
        return asdict(self)


def _fail(path: str | os.PathLike, problem: str) -> ValueError:
    return ValueError(f"{os.fspath(path)}: {problem}")


def _time(path: str | os.PathLike, line: int, column: str, value: str | None) -> float:
    """One time cell: a finite, non-negative number of seconds."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise _fail(path, f"line {line}: {column} {value!r} is not a number") from None
    if not math.isfinite(t):
        raise _fail(path, f"line {line}: {column} {value!r} is not finite")
    if t < 0:
        raise _fail(path, f"line {line}: {column} {t:g} is negative")
    return t


def read_intervals(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> NDArray:
    """Read a lyric-line CSV into sorted, merged ``(start, end)`` intervals in seconds.

    Parameters
    ----------
    path : path-like
        CSV with a header naming at least ``start_time`` and ``end_time`` (seconds; other
        columns, e.g. ``lyrics_line``, are ignored).
    max_bytes : int
        Larger files are refused before they are parsed.

    Returns
    -------
    np.ndarray [shape=(n, 2), dtype=float64]
        Intervals sorted by start, overlapping or touching ones merged
        (:func:`merge_intervals`); ``(0, 2)`` for a file with a header and no rows.

    Raises
    ------
    ValueError
        Naming the file: unreadable, too large, not UTF-8, no header, a missing column, a
        non-numeric, non-finite or negative time, an end before its start.
    """
    text = read_text_bounded(path, max_bytes, "a lyric-line file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames
        if not header:
            raise _fail(path, "empty file; expected a header with "
                              f"{START_COLUMN},{END_COLUMN}")
        missing = [c for c in (START_COLUMN, END_COLUMN) if c not in header]
        if missing:
            raise _fail(path, f"missing column {', '.join(missing)} (header: "
                              f"{','.join(header)})")
        rows = []
        for row in reader:
            line = reader.line_num
            start = _time(path, line, START_COLUMN, row[START_COLUMN])
            end = _time(path, line, END_COLUMN, row[END_COLUMN])
            if end < start:
                raise _fail(path, f"line {line}: {END_COLUMN} {end:g} is before "
                                  f"{START_COLUMN} {start:g}")
            rows.append((start, end))
    except csv.Error as exc:
        raise _fail(path, f"malformed CSV at line {reader.line_num}: {exc}") from None
    return merge_intervals(np.array(rows, dtype=np.float64).reshape(-1, 2))


def merge_intervals(intervals: ArrayLike) -> NDArray:
    """Sort ``(start, end)`` intervals and merge those that overlap or touch.

    Parameters
    ----------
    intervals : array-like [shape=(n, 2)]
        Seconds, each ``end >= start``.

    Returns
    -------
    np.ndarray [shape=(m, 2), dtype=float64]
        Disjoint intervals in increasing order, ``m <= n``.
    """
    iv = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
    if iv.size == 0:
        return iv.copy()
    iv = iv[np.argsort(iv[:, 0], kind="stable")]
    reach = np.maximum.accumulate(iv[:, 1])
    # a new run starts where an interval begins after everything before it has ended
    new = np.concatenate([[True], iv[1:, 0] > reach[:-1]])
    first = np.flatnonzero(new)
    last = np.concatenate([first[1:] - 1, [len(iv) - 1]])
    return np.stack([iv[first, 0], reach[last]], axis=1)


def frame_count(duration_s: float, hop_s: float = DEFAULT_HOP_S) -> int:
    """Whole grid frames in ``duration_s`` seconds: ``floor(duration_s / hop_s)``."""
    if hop_s <= 0:
        raise ValueError(f"hop_s must be positive, got {hop_s}")
    return max(0, int(math.floor(duration_s / hop_s + 1e-9)))


def _centres(n_frames: int, hop_s: float) -> NDArray:
    return (np.arange(n_frames) + 0.5) * hop_s


def reference_labels(intervals: ArrayLike, n_frames: int,
                     hop_s: float = DEFAULT_HOP_S) -> NDArray:
    """Frame labels of reference intervals: active where the frame centre lies in one.

    Parameters
    ----------
    intervals : array-like [shape=(n, 2)]
        ``(start, end)`` seconds, in any order, overlaps allowed; parts beyond the grid
        are ignored.
    n_frames : int
        Grid length (:func:`frame_count` of the signal's duration).
    hop_s : float
        Grid hop (s).

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=bool]
    """
    iv = merge_intervals(intervals)
    t = _centres(n_frames, hop_s)
    # number of starts <= t minus number of ends <= t: 1 inside [start, end), else 0
    inside = (np.searchsorted(iv[:, 0], t, side="right")
              - np.searchsorted(iv[:, 1], t, side="right"))
    return inside > 0


def block_labels(active: ArrayLike, n_frames: int, *, hop_s: float = DEFAULT_HOP_S,
                 block_step_s: float = loudness.GATE_STEP_S,
                 block_s: float = loudness.BLOCK_S, mapping: str = "centre") -> NDArray:
    """Map per-block activity (e.g. :func:`~vocalmix.features.extract.active_blocks`) onto
    the grid.

    Parameters
    ----------
    active : array-like of bool [shape=(n_blocks,)]
        Block ``j`` spans ``[j * block_step_s, j * block_step_s + block_s)``.
    n_frames : int
        Grid length.
    hop_s : float
        Grid hop (s).
    block_step_s, block_s : float
        The blocks' hop and length (s); BS.1770's 100 ms and 400 ms by default.
    mapping : {"centre", "all", "any"}
        ``"centre"``: the label of the block whose centre is nearest the frame's centre
        (ties to the earlier block; clipped to the first and last block). ``"all"``/``"any"``:
        active when every/some block whose span holds the frame centre is active (a frame
        beyond every span takes the last block's label). See the module's docstring.

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=bool]
        All False when there are no blocks.
    """
    if mapping not in MAPPINGS:
        raise ValueError(f"mapping must be one of {', '.join(MAPPINGS)}, got {mapping!r}")
    act = np.asarray(active, dtype=bool).ravel()
    t = _centres(n_frames, hop_s)
    if act.size == 0:
        return np.zeros(n_frames, dtype=bool)
    if mapping == "centre":
        # nearest centre j * step + block_s / 2; the tolerance sends float ties to the earlier
        pos = (t - block_s / 2.0) / block_step_s
        j = np.clip(np.ceil(pos - 0.5 - 1e-9).astype(np.int64), 0, act.size - 1)
        return act[j]
    # blocks holding centre t: (t - block_s) / step < j <= t / step, clipped to the blocks
    last = np.clip(np.floor(t / block_step_s + 1e-9).astype(np.int64), 0, act.size - 1)
    first = np.clip(np.floor((t - block_s) / block_step_s + 1e-9).astype(np.int64) + 1,
                    0, last)
    count = np.concatenate([[0], np.cumsum(act)])  # active blocks before index j
    n_active = count[last + 1] - count[first]
    return n_active == last - first + 1 if mapping == "all" else n_active > 0


def detector_labels(audio: NDArray, sample_rate: float, *, gate_lu: float = -20.0,
                    hop_s: float = DEFAULT_HOP_S, n_frames: int | None = None,
                    mapping: str = "centre", name: str | None = None) -> NDArray:
    """The project's vocal-activity decision on ``audio``, on the evaluation grid.

    :func:`vocalmix.measure.loudness.analyse` of the signal, then
    :func:`vocalmix.features.extract.active_blocks` with ``gate_lu``, then
    :func:`block_labels`.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)]
        The signal judged (a separated vocal, or any other); at least 400 ms long.
    sample_rate : float
        Its rate (Hz).
    gate_lu : float
        Relative gate (LU, negative): config ``features.gate_lu``.
    hop_s : float
        Grid hop (s).
    n_frames : int, optional
        Grid length; default :func:`frame_count` of the signal's duration.
    mapping : {"centre", "all", "any"}
        See :func:`block_labels`.
    name : str, optional
        Names the signal in errors.

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=bool]

    Raises
    ------
    vocalmix.audio.AudioError
        Wrong shape, non-finite samples, shorter than one block.
    """
    from vocalmix.features.extract import active_blocks

    res = loudness.analyse(audio, sample_rate, name=name)
    if n_frames is None:
        n_frames = frame_count(res.duration_s, hop_s)
    return block_labels(active_blocks(res, gate_lu), n_frames, hop_s=hop_s,
                        block_step_s=res.block_step_s, block_s=loudness.BLOCK_S,
                        mapping=mapping)


def boundary_mask(reference: ArrayLike, collar_s: float,
                  hop_s: float = DEFAULT_HOP_S) -> NDArray:
    """Frames whose centre lies strictly within ``collar_s`` of a reference boundary.

    A boundary is a change of ``reference`` between frames ``k - 1`` and ``k``, placed at
    ``k * hop_s``; the grid's ends are not boundaries. ``collar_s=0`` marks nothing.

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=bool]
        True for the frames to leave out of the scores.
    """
    if collar_s < 0:
        raise ValueError(f"collar_s must be >= 0, got {collar_s}")
    ref = np.asarray(reference, dtype=bool).ravel()
    out = np.zeros(ref.size, dtype=bool)
    edges = (np.flatnonzero(ref[1:] != ref[:-1]) + 1) * hop_s
    if collar_s == 0 or edges.size == 0:
        return out
    t = _centres(ref.size, hop_s)
    k = np.searchsorted(edges, t)
    near = np.full(ref.size, np.inf)
    has_next, has_prev = k < edges.size, k > 0
    near[has_next] = edges[k[has_next]] - t[has_next]
    near[has_prev] = np.minimum(near[has_prev], t[has_prev] - edges[k[has_prev] - 1])
    # the tolerance keeps a centre exactly collar_s away (up to rounding) in the scores
    return near < collar_s - 1e-9


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def frame_scores(reference: ArrayLike, detected: ArrayLike, *, collar_s: float = 0.0,
                 hop_s: float = DEFAULT_HOP_S) -> FrameScores:
    """Frame precision, recall and F1 of ``detected`` against ``reference``.

    Parameters
    ----------
    reference, detected : array-like of bool [shape=(n_frames,)]
        Labels on one grid (:func:`reference_labels`, :func:`detector_labels`).
    collar_s : float
        Frames within this many seconds of a reference boundary are not scored
        (:func:`boundary_mask`); 0 (default) scores every frame.
    hop_s : float
        Grid hop (s), for the collar.

    Returns
    -------
    FrameScores

    Raises
    ------
    ValueError
        Label arrays of different lengths, negative collar.
    """
    ref = np.asarray(reference, dtype=bool).ravel()
    det = np.asarray(detected, dtype=bool).ravel()
    if ref.size != det.size:
        raise ValueError(f"reference has {ref.size} frames, detected {det.size}")
    keep = ~boundary_mask(ref, collar_s, hop_s)
    r, d = ref[keep], det[keep]
    tp = int(np.count_nonzero(r & d))
    fp = int(np.count_nonzero(~r & d))
    fn = int(np.count_nonzero(r & ~d))
    n = int(r.size)
    return FrameScores(precision=_ratio(tp, tp + fp), recall=_ratio(tp, tp + fn),
                       f1=_ratio(2 * tp, 2 * tp + fp + fn),
                       ref_active_fraction=_ratio(int(r.sum()), n),
                       det_active_fraction=_ratio(int(d.sum()), n), n_frames=n,
                       n_excluded=int(ref.size - n))
