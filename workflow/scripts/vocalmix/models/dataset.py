"""The training dataset (rule ``build_dataset``): log-mel frames, windows and targets.

For every track with a processed vocal and every corrupted version of it, the analysis
windows of the features stage (``features.window_s`` long, every ``features.hop_s``) give:
* inputs -- log-mel spectrograms (``n_mels`` bands, 40 Hz - 16 kHz, ``n_fft``/``hop``) of the
  corrupted vocal and of the backing, both loudness-normalised per track to -23 LUFS (the
  level balance cannot be read off the input), stacked as 2 channels, float16;
* targets -- ``level_lu``: the original vocal-to-backing ratio in that window (NaN for a
  *silent* window: no target, as the proposal asks); ``eq_<f>``: the inverse corruption
  EQ's response at the 31 third-octave centres minus its mean over 100 Hz - 10 kHz (dB; the
  shape of the correction a model should apply -- its broadband gain is the level's
  business, and the loudness-normalised input cannot show it);
  ``lra_lu``: the original vocal's loudness range; ``reverb_*``: the GA-fitted reverb of the
  original -- log mid-band T60 (s), damping, return level (dB), pre-delay (ms).

Layout (``dataset.json``'s ``layout``: :data:`LAYOUT`). The windows overlap (3 s every 1 s:
each frame lies in three windows) and a track's corrupted versions share its backing, so a
window's input is not stored as such -- each signal's frames are, once (issue 19: the
per-window layout of layout 1 stored every frame three times and the backing once per
version, a quarter of a full-length run's results). Per split, in shards that hold whole
tracks (a shard is closed once it holds ``shard_size`` windows):
* ``<split>_<i>.frames.npy`` -- float16 ``(rows, n_mels)``, frame-major: per track, its
  backing's log-mel frames, then each corrupted version's vocal frames, each from the first
  frame to the end of the last window that uses it;
* ``<split>_<i>.targets.npy`` -- float32 ``(windows, targets)``;
* ``signals.tsv`` -- one row per stored signal: split, shard, track_id, signal (the input
  channel: ``vocal`` or ``backing``), version (empty for the backing: every version's),
  row (its first row in the shard's frames file), frames;
* ``index.tsv`` -- one row per window: track, split, source, version, window, start_s,
  silent, weight, frame (the window's first frame in its signals), shard, row (its targets
  row);
* ``dataset.json`` -- the layout, target names, input layout, counts, training-split target
  means and standard deviations, and each corrupted version's EQ, for
  :mod:`vocalmix.models.augment`.
A window's input is the ``frames`` frames from ``frame`` of its version's vocal and of its
track's backing, transposed to ``(2, n_mels, frames)``: the same float16 numbers the
per-window layout stored (the float32 frames cast once), so training reads the same arrays
and gives the same model, from about a third of the disk for 3-s windows every 1 s (5/24,
about a fifth, with the backing shared by four versions: the full-length benchmark's
dataset went from 236 to 51 MB). A dataset in another layout is
refused: rebuild it. Splits are by track -- every window of a track is in the track's split.

Memory does not grow with the corpus or with a song's length: every audio file is streamed
in blocks (the backing's loudness normalisation by the streaming BS.1770 meter first) and
its log-mel frames go to the shard's frames file as they are computed (the file's header is
rewritten with the row count when the shard is closed); a shard's targets are a few numbers
a window, and the index is written row by row. :class:`ShardedDataset` reads the frames of
the windows it is asked for from the frames files with ``pread`` (never a whole split, never
memory-mapped), so training on hours of audio needs little RAM. Reading never executes
anything from the files (``.npy`` headers are parsed as literals; shapes and dtypes are
checked, and an error names the file).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import AudioError, db_to_gain, open_audio
from vocalmix.config import schema_settings
from vocalmix.dsp.effects import EQBand, eq_response_db
from vocalmix.features.extract import WindowSettings
from vocalmix.files import atomic_path, atomic_paths, read_json, write_json
from vocalmix.measure import loudness
from vocalmix.measure.mel import LogMel
from vocalmix.measure.spectrum import OCTAVE_HZ, THIRD_OCTAVE_HZ, octave_shape_db
from vocalmix.models.augment import correction_shape_db
from vocalmix.tables import text

log = logging.getLogger(__name__)

__all__ = ["DatasetSettings", "window_frames", "TARGETS", "eq_target_names",
           "tone_target_names", "build",
           "ShardedDataset", "normalise_level", "normalising_gain", "log_mel_blocks",
           "INDEX_COLUMNS", "SIGNAL_COLUMNS", "LAYOUT"]

NORMALISED_LUFS = -23.0
REVERB_TARGETS = ("reverb_log_t60", "reverb_damping", "reverb_wet_db", "reverb_predelay_ms",
                  "reverb_drr_db")
#: The on-disk layout this module writes and reads (``dataset.json``'s ``layout``; datasets
#: without one are in layout 1, a float16 ``(2, n_mels, frames)`` array per window)
LAYOUT = 2
INDEX_COLUMNS = ("track_id", "split", "source", "version", "window", "start_s", "silent",
                 "weight", "frame", "shard", "row")
SIGNAL_COLUMNS = ("split", "shard", "track_id", "signal", "version", "row", "frames")
FRAMES_DTYPE = np.dtype("<f2")
TARGETS_DTYPE = np.dtype("<f4")
#: Audio frames read at once when a file is streamed (6 s of 44.1-kHz stereo: 2 MB)
READ_FRAMES = 1 << 18


def eq_target_names() -> list[str]:
    return [f"eq_{f:.0f}" for f in THIRD_OCTAVE_HZ]


def tone_target_names() -> list[str]:
    """The processed vocal's tonal balance (:func:`vocalmix.measure.spectrum.octave_shape_db`
    of its long-term spectrum), one target per octave band of
    :data:`vocalmix.measure.spectrum.OCTAVE_HZ`: the data-driven mixer equalises a take
    toward the predicted balance (issue 21), as the rule-based one toward its genre's."""
    return [f"tone_{hz}" for hz in OCTAVE_HZ]


TARGETS = ["level_lu", *eq_target_names(), *tone_target_names(), "lra_lu", *REVERB_TARGETS]


def normalise_level(audio: NDArray, sample_rate: int, target: float = NORMALISED_LUFS, *,
                    lufs: float | None = None) -> NDArray[np.float32]:
    """``audio`` scaled to ``target`` LUFS integrated (silence is returned as it is);
    ``lufs``: its integrated loudness where the caller has measured it."""
    if lufs is None:
        lufs = loudness.integrated_loudness(np.atleast_2d(audio), sample_rate)
    if not math.isfinite(lufs):
        return np.asarray(audio, dtype=np.float32)
    return (np.asarray(audio, dtype=np.float32) * np.float32(db_to_gain(target - lufs)))


def normalising_gain(path: str | os.PathLike, target: float = NORMALISED_LUFS) -> float | None:
    """The gain that brings the file ``path`` to ``target`` LUFS integrated, measured by the
    streaming meter (the same value :func:`normalise_level` finds on the whole array); None
    for silence (nothing passes the gates: the audio is left as it is)."""
    lufs = loudness.analyse_file(str(path)).integrated_lufs
    return float(db_to_gain(target - lufs)) if math.isfinite(lufs) else None


def _mono_blocks(path: str | os.PathLike, gain: float | None, sample_rate: int | None,
                 counted: list[int]) -> Iterator[NDArray[np.float32]]:
    """The file's channel mean in blocks of :data:`READ_FRAMES`, scaled by ``gain`` first
    (as :func:`normalise_level` scales the whole array); ``counted[0]`` ends as the number of
    samples read. Raises AudioError (naming the file) for another rate than ``sample_rate``
    or for NaN/inf samples."""
    with open_audio(path) as stream:
        if sample_rate is not None and stream.sample_rate != sample_rate:
            raise AudioError(path, f"{stream.sample_rate} Hz, expected {sample_rate} Hz")
        for block in stream.blocks(READ_FRAMES):
            if gain is not None:
                block = block * np.float32(gain)
            counted[0] += block.shape[1]
            yield block.mean(axis=0)


def log_mel_blocks(blocks: Iterable[NDArray], n_samples: int, mel: LogMel
                   ) -> Iterator[tuple[int, NDArray[np.float32]]]:
    """:class:`~vocalmix.measure.mel.LogMel` of a mono signal that arrives in ``blocks``
    (``n_samples`` in all), as ``(first frame, (n_mels, frames))`` pieces of at most
    ``LogMel.BLOCK_FRAMES`` frames: the same frames as ``mel`` of the whole signal, computed
    in the same blocks with the same operations (so the same numbers), holding only one block
    of samples and one of frames."""
    from scipy import fft

    n_frames = n_samples // mel.hop + 1  # LogMel pads n_fft zeros: 1 + samples // hop frames
    scale = mel.n_fft * float(np.sum(mel.window ** 2))
    source = iter(blocks)
    buf, buf_start, exhausted = np.zeros(0, np.float32), 0, False
    for first in range(0, n_frames, mel.BLOCK_FRAMES):
        count = min(mel.BLOCK_FRAMES, n_frames - first)
        start, stop = first * mel.hop, (first + count - 1) * mel.hop + mel.n_fft
        skip = start - buf_start  # samples no frame from here on uses
        while skip > buf.size and not exhausted:  # (only where hop > n_fft)
            skip -= buf.size
            chunk = next(source, None)
            exhausted = chunk is None
            buf = np.zeros(0, np.float32) if exhausted else np.asarray(chunk, np.float32)
        buf, buf_start = buf[skip:], start
        parts = [buf]
        have = buf.size
        while have < stop - start and not exhausted:
            chunk = next(source, None)
            if chunk is None:
                exhausted = True
                break
            parts.append(np.asarray(chunk, dtype=np.float32))
            have += parts[-1].size
        if len(parts) > 1:
            buf = np.concatenate(parts)
        seg = buf[: stop - start]
        if seg.size < stop - start:  # past the end: LogMel's zero padding
            seg = np.pad(seg, (0, stop - start - seg.size))
        frames = np.lib.stride_tricks.sliding_window_view(seg, mel.n_fft)[:: mel.hop]
        spec = fft.rfft(frames * mel.window, axis=1)
        power = (spec.real ** 2 + spec.imag ** 2) / scale
        yield first, (10.0 * np.log10(mel.fb @ power.T + 1e-10)).astype(np.float32, copy=False)


def _signal_frames(path: str | os.PathLike, mel: LogMel, sample_rate: int | None) -> int:
    """The log-mel frames of the file ``path`` as its header declares its length (the
    streaming in :func:`_log_mel_frames` checks it); AudioError for another rate than
    ``sample_rate``."""
    with open_audio(path) as stream:
        if sample_rate is not None and stream.sample_rate != sample_rate:
            raise AudioError(path, f"{stream.sample_rate} Hz, expected {sample_rate} Hz")
        return int(stream.frames) // mel.hop + 1  # as log_mel_blocks counts them


def _log_mel_frames(path: str | os.PathLike, mel: LogMel, *, gain: float | None,
                    sample_rate: int | None, stop: int) -> Iterator[NDArray[np.float32]]:
    """Frames ``0:stop`` of the log-mel of the file's channel mean (scaled by ``gain``) as
    ``(n_mels, count)`` float32 pieces of :func:`log_mel_blocks` (the numbers of the whole
    signal's log-mel). The rest of the file is read (not transformed), and AudioError
    (naming the file) is raised after the last piece if the file holds other samples than
    its header declares, another rate than ``sample_rate`` or NaN/inf."""
    with open_audio(path) as stream:
        n_samples = stream.frames
    counted = [0]
    samples = _mono_blocks(path, gain, sample_rate, counted)
    for first, block in log_mel_blocks(samples, n_samples, mel):
        if first >= stop:
            break
        yield block[:, : stop - first]
    for _ in samples:  # the samples past the last frame asked for: read and checked
        pass
    if counted[0] != n_samples:
        raise AudioError(path, f"{counted[0]} samples read, the header declares {n_samples}")


def window_frames(starts_s: list[float], window_s: float, mel: LogMel) -> tuple[NDArray, int]:
    """First frame of each window and the frames per window."""
    n = int(round(window_s * mel.sample_rate / mel.hop))
    first = np.rint(np.asarray(starts_s) * mel.sample_rate / mel.hop).astype(int)
    return first, n


def _windows_table(path: str) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _float(v) -> float:
    return float(v) if v not in (None, "") else math.nan


def track_targets(features: dict, corruption: dict, sample_rate: int) -> dict:
    """Per-version targets that are constant over a track's windows."""

    inv = [EQBand.from_dict(b) for b in corruption["inverse_eq"]]
    eq = eq_response_db(inv, THIRD_OCTAVE_HZ, sample_rate)
    eq = correction_shape_db(np.where(THIRD_OCTAVE_HZ * 2 ** (1 / 6) <= sample_rate / 2, eq,
                                      np.nan))
    out = {name: float(v) for name, v in zip(eq_target_names(), eq)}
    vocal = features.get("vocal") or {}
    tone = (octave_shape_db(np.array([_float(v) for v in vocal["eq_db"]], dtype=float))
            if vocal.get("eq_db") is not None else np.full(len(OCTAVE_HZ), np.nan))
    out.update({name: float(v) for name, v in zip(tone_target_names(), tone)})
    out["lra_lu"] = _float(vocal.get("loudness_range_lu"))
    rv = features.get("reverb") or {}
    if rv.get("params") and (rv.get("fitted") or {}).get("t60_mid_s"):
        out.update(reverb_log_t60=math.log(rv["fitted"]["t60_mid_s"]),
                   reverb_damping=rv["params"]["damping"], reverb_wet_db=rv["params"]["wet_db"],
                   reverb_predelay_ms=rv["params"]["predelay_ms"])
    else:
        out.update({k: math.nan for k in REVERB_TARGETS})
    # the processed vocal's wetness as the blind estimator reads it (the data-driven mixer
    # sets its return level for it, and adds none to a take already as wet)
    out["reverb_drr_db"] = _float((rv.get("blind_estimate") or {}).get("drr_db"))
    return out


class _ShardWriter:
    """A split's shards. A shard's frames are streamed into its ``.frames.npy`` (written
    with a header for 0 rows, rewritten with the row count when the shard is closed: numpy
    pads the header so that it keeps its length), its windows' targets kept (a few numbers
    a window) and written when it is closed; both files are renamed into place together."""

    def __init__(self, out_dir: Path, split: str, size: int, n_mels: int):
        self.out_dir, self.split, self.size, self.n_mels = out_dir, split, size, n_mels
        self.shard = 0
        self.rows = 0  # frame rows in the open shard
        self.targets: list[NDArray] = []  # the open shard's windows' targets
        self._files = None  # the atomic_paths context of the open shard
        self._tmp: list[Path] = []
        self._fh = None
        self._data_at = 0
        self.frames_written = 0  # rows in all of this split's closed shards

    @property
    def name(self) -> str:
        return f"{self.split}_{self.shard:03d}"

    def _header(self, rows: int) -> None:
        np.lib.format.write_array_header_1_0(self._fh, {
            "descr": np.lib.format.dtype_to_descr(FRAMES_DTYPE), "fortran_order": False,
            "shape": (int(rows), self.n_mels)})

    def _open(self) -> None:
        self._files = atomic_paths([self.out_dir / f"{self.name}.frames.npy",
                                    self.out_dir / f"{self.name}.targets.npy"])
        self._tmp = self._files.__enter__()
        self._fh = open(self._tmp[0], "wb")
        self._header(0)
        self._data_at = self._fh.tell()

    def add_signal(self, pieces: Iterable[NDArray], frames: int) -> int:
        """Write the ``(n_mels, count)`` float32 ``pieces`` (``frames`` in all) as float16
        rows; returns the first row."""
        if self._fh is None:
            self._open()
        first, written = self.rows, 0
        for piece in pieces:
            rows = np.ascontiguousarray(piece.T, dtype=FRAMES_DTYPE)  # the float16 cast
            self._fh.write(rows.tobytes())
            written += rows.shape[0]
        if written != frames:
            raise RuntimeError(f"{written} frames computed, {frames} expected")
        self.rows += written
        return first

    def add_window(self, y: NDArray) -> tuple[str, int]:
        """Record a window's targets; returns its shard and targets row."""
        if self._fh is None:
            self._open()
        self.targets.append(np.asarray(y, dtype=TARGETS_DTYPE))
        return self.name, len(self.targets) - 1

    def end_track(self) -> None:
        """A track is written: close the shard if it holds ``size`` windows."""
        if len(self.targets) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self._fh is None:
            return
        self._fh.seek(0)
        self._header(self.rows)
        if self._fh.tell() != self._data_at:  # (numpy pads headers for this: never)
            raise RuntimeError(f"{self.name}.frames.npy: the header changed length")
        self._fh.close()
        self._fh = None
        with open(self._tmp[1], "wb") as fh:
            np.save(fh, np.stack(self.targets) if self.targets
                    else np.zeros((0, len(TARGETS)), TARGETS_DTYPE), allow_pickle=False)
        self._files.__exit__(None, None, None)  # both renamed into place
        self._files = None
        self.frames_written += self.rows
        self.rows, self.targets = 0, []
        self.shard += 1

    def abort(self) -> None:
        """Drop the open shard's files (the build failed)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._files is not None:
            err = RuntimeError("dataset build aborted")
            self._files.__exit__(type(err), err, None)  # removes the temporary files
            self._files = None


@schema_settings("dataset")
class DatasetSettings:
    """The log-mel inputs and the shards of the training dataset (config section
    ``dataset``; defaults from the schema)."""

    n_mels: int
    n_fft: int
    hop: int
    shard_size: int


def build(tracks: list[dict], out_dir: str | os.PathLike, *, sample_rate: int,
          windows: WindowSettings, settings: DatasetSettings) -> dict:
    """Write the dataset for ``tracks`` (each: track_id, split, weight, backing, features,
    windows, corrupted: list of (audio, params) paths). ``windows``: the features stage's
    window settings, recorded so that the mixer cuts and judges windows the same way.
    Returns the dataset description.

    One track is processed at a time and each of its signals is streamed (see the module
    docstring): the memory needed does not grow with the corpus or with a song's length.
    """
    window_s = float(windows.window_s)
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mel = LogMel(sample_rate, int(settings.n_fft), int(settings.hop), int(settings.n_mels))
    writers: dict[str, _ShardWriter] = {}
    counts: dict[str, dict] = {}
    corruption_eq: dict[str, list] = {}
    frames_per_window = None
    try:
        with atomic_path(out / "index.tsv") as index_tmp, \
                atomic_path(out / "signals.tsv") as signals_tmp, \
                open(index_tmp, "w", newline="") as index_fh, \
                open(signals_tmp, "w", newline="") as signals_fh:
            index = csv.writer(index_fh, delimiter="\t", lineterminator="\n")
            index.writerow(INDEX_COLUMNS)
            signals = csv.writer(signals_fh, delimiter="\t", lineterminator="\n")
            signals.writerow(SIGNAL_COLUMNS)
            for t in tqdm(sorted(tracks, key=lambda t: t["track_id"]), desc="dataset",
                          unit="track", mininterval=1.0):
                feats = read_json(t["features"])
                track_windows = _windows_table(t["windows"])
                if not track_windows:
                    log.warning("%s: no analysis window (shorter than %.1f s); skipped",
                                t["track_id"], window_s)
                    continue
                starts = [float(w["start_s"]) for w in track_windows]
                first, frames_per_window = window_frames(starts, window_s, mel)
                writer = writers.setdefault(t["split"], _ShardWriter(
                    out, t["split"], int(settings.shard_size), mel.n_mels))
                split_counts = counts.setdefault(t["split"], {"windows": 0, "tracks": set()})
                gain = normalising_gain(t["backing"])
                backing_frames = _signal_frames(t["backing"], mel, sample_rate)
                # each version's windows: those within both signals (as the headers give
                # their lengths; the streaming checks them)
                versions = []
                for version, (apath, ppath) in enumerate(t["corrupted"]):
                    corruption = read_json(ppath)
                    corruption_eq[f"{t['track_id']}/{version}"] = corruption["eq"]
                    usable = min(_signal_frames(apath, mel, None), backing_frames)
                    kept = [(w, int(f0)) for w, f0 in zip(track_windows, first)
                            if f0 + frames_per_window <= usable]
                    if kept:
                        versions.append((version, apath,
                                         track_targets(feats, corruption, sample_rate), kept))
                if not versions:
                    continue
                # each signal's frames from the first to the end of the last window using them
                stop = {v: max(f0 for _, f0 in kept) + frames_per_window
                        for v, _, _, kept in versions}
                backing_stop = max(stop.values())
                row = writer.add_signal(_log_mel_frames(
                    t["backing"], mel, gain=gain, sample_rate=sample_rate, stop=backing_stop),
                    backing_stop)
                signals.writerow([text(v) for v in (t["split"], writer.name, t["track_id"],
                                                    "backing", "", row, backing_stop)])
                for version, apath, constant, kept in versions:
                    row = writer.add_signal(_log_mel_frames(
                        apath, mel, gain=None, sample_rate=None, stop=stop[version]),
                        stop[version])
                    signals.writerow([text(v) for v in (
                        t["split"], writer.name, t["track_id"], "vocal", version, row,
                        stop[version])])
                    for w, f0 in kept:
                        silent = w["silent"] == "1"
                        targets = {"level_lu": (math.nan if silent
                                                else _float(w["vocal_to_backing_lu"])),
                                   **constant}
                        y = np.array([targets[k] for k in TARGETS], dtype=np.float32)
                        shard, target_row = writer.add_window(y)
                        index.writerow([text(v) for v in (
                            t["track_id"], t["split"], t.get("source") or "stems",
                            version, int(w["window"]), float(w["start_s"]), int(silent),
                            float(t.get("weight", 1.0)), f0, shard, target_row)])
                        split_counts["windows"] += 1
                        split_counts["tracks"].add(t["track_id"])
                writer.end_track()
            for w in writers.values():
                w.flush()
            if not any(c["windows"] for c in counts.values()):
                raise ValueError("the dataset is empty: no track with a processed vocal and "
                                 "a window")
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    desc = {
        "layout": LAYOUT,
        "targets": TARGETS, "reverb_targets": list(REVERB_TARGETS),
        "eq_bands_hz": [float(f) for f in THIRD_OCTAVE_HZ],
        "input": {"channels": ["vocal", "backing"], **mel.spec(), "window_s": window_s,
                  "windows": dataclasses.asdict(windows),
                  "frames": int(frames_per_window), "normalised_lufs": NORMALISED_LUFS,
                  "dtype": "float16"},
        "counts": {s: {"windows": c["windows"], "tracks": len(c["tracks"]),
                       "frames": writers[s].frames_written}
                   for s, c in sorted(counts.items()) if c["windows"]},
    }
    ds = ShardedDataset(out, split="train", description=desc)
    y = ds.targets_all()
    ds.close()
    with warnings.catch_warnings():  # a target with no finite value (a band above Nyquist)
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(y, axis=0) if y.size else np.zeros(len(TARGETS))
        std = np.nanstd(y, axis=0) if y.size else np.ones(len(TARGETS))
    desc.update({
        "train_mean": [None if not np.isfinite(m) else float(m) for m in mean],
        "train_std": [None if not np.isfinite(s) or s == 0 else float(s) for s in std],
        "corruption_eq": corruption_eq,
    })
    write_json(out / "dataset.json", desc)
    return desc


class _Index:
    """The rows of ``index.tsv`` for one split, held as columns (a few bytes a window, not a
    dict of strings); ``index[i]`` is row ``i`` as the dict of strings ``csv.DictReader``
    gives, made when asked for."""

    def __init__(self, path: Path, split: str):
        tracks: dict[str, int] = {}
        sources: dict[str, int] = {}
        shards: dict[str, int] = {}
        cols: dict[str, list] = {k: [] for k in ("track", "source", "version", "window",
                                                 "start_s", "silent", "weight", "frame",
                                                 "shard", "row")}
        for line, r in _table_rows(path, INDEX_COLUMNS, "a dataset index"):
            if r[1] != split:
                continue
            try:
                cols["track"].append(tracks.setdefault(r[0], len(tracks)))
                cols["source"].append(sources.setdefault(r[2], len(sources)))
                cols["version"].append(int(r[3]))
                cols["window"].append(int(r[4]))
                cols["start_s"].append(float(r[5]))
                cols["silent"].append(int(r[6]))
                cols["weight"].append(float(r[7]))
                cols["frame"].append(int(r[8]))
                cols["shard"].append(shards.setdefault(r[9], len(shards)))
                cols["row"].append(int(r[10]))
            except ValueError as exc:
                raise ValueError(f"{path}, line {line}: {exc}") from None
        self.path = path
        self.split = split
        self.track_names = list(tracks)
        self.source_names = list(sources)
        self.shard_names = list(shards)
        self.track = np.asarray(cols["track"], dtype=np.int32)
        self.source = np.asarray(cols["source"], dtype=np.int16)
        self.version = np.asarray(cols["version"], dtype=np.int32)
        self.window = np.asarray(cols["window"], dtype=np.int32)
        self.start_s = np.asarray(cols["start_s"], dtype=np.float64)
        self.silent = np.asarray(cols["silent"], dtype=np.int8)
        self.weight = np.asarray(cols["weight"], dtype=np.float64)
        self.frame = np.asarray(cols["frame"], dtype=np.int64)
        self.shard = np.asarray(cols["shard"], dtype=np.int32)
        self.row = np.asarray(cols["row"], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.track.size)

    def __getitem__(self, i: int) -> dict[str, str]:
        return {"track_id": self.track_names[self.track[i]], "split": self.split,
                "source": self.source_names[self.source[i]], "version": str(self.version[i]),
                "window": str(self.window[i]), "start_s": str(float(self.start_s[i])),
                "silent": str(self.silent[i]), "weight": str(float(self.weight[i])),
                "frame": str(self.frame[i]), "shard": self.shard_names[self.shard[i]],
                "row": str(self.row[i])}

    def __iter__(self) -> Iterator[dict[str, str]]:
        return (self[i] for i in range(len(self)))

    def track_ids(self, rows: Sequence[int] | NDArray | None = None) -> list[str]:
        """The track id of each of ``rows`` (default: every row)."""
        codes = self.track if rows is None else self.track[np.asarray(rows, dtype=np.int64)]
        return [self.track_names[c] for c in codes]


def _signals(path: Path, split: str) -> dict[tuple[str, str, int | None], tuple[str, int, int]]:
    """The stored signals of ``split`` from ``signals.tsv``: (track, signal, version -- None
    for a signal shared by the versions) -> (shard, first row, frames)."""
    out: dict[tuple[str, str, int | None], tuple[str, int, int]] = {}
    for line, r in _table_rows(path, SIGNAL_COLUMNS, "a dataset's signal table"):
        if r[0] != split:
            continue
        try:
            key = (r[2], r[3], int(r[4]) if r[4] else None)
            row, frames = int(r[5]), int(r[6])
        except ValueError as exc:
            raise ValueError(f"{path}, line {line}: {exc}") from None
        if row < 0 or frames < 0:
            raise ValueError(f"{path}, line {line}: negative row or frame count")
        if key in out:
            raise ValueError(f"{path}, line {line}: {key[1]} of {key[0]}"
                             f"{'' if key[2] is None else f' v{key[2]}'} stored twice")
        out[key] = (r[1], row, frames)
    return out


def _table_rows(path: Path, columns: Sequence[str], what: str
                ) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each row of the tab-separated table ``path``, whose header
    must be ``columns`` and every row as wide (a clear error naming the file and line)."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(header) != tuple(columns):
            raise ValueError(f"{path}: not {what} (columns {header}, expected "
                             f"{', '.join(columns)})")
        for line, r in enumerate(reader, start=2):
            if len(r) != len(columns):
                raise ValueError(f"{path}, line {line}: {len(r)} fields, expected "
                                 f"{len(columns)}")
            yield line, r


class _RowsView:
    """Rows ``rows`` of an :class:`_Index`, in that order, as a sequence of dicts."""

    def __init__(self, index: _Index, rows: NDArray):
        self._index, self._rows = index, rows

    def __len__(self) -> int:
        return int(self._rows.size)

    def __getitem__(self, i: int) -> dict[str, str]:
        return self._index[int(self._rows[i])]

    def __iter__(self) -> Iterator[dict[str, str]]:
        return (self[i] for i in range(len(self)))


class _ShardFile:
    """One ``.npy`` shard file read by rows with ``pread`` (neither loaded nor memory-mapped:
    the pages of a memory-mapped file count towards a job's RSS once touched, so a training
    epoch over a mapped dataset would hold all of it). Its header is parsed as a literal
    (nothing in it is executed) and must declare ``dtype`` rows of ``row_shape``."""

    def __init__(self, path: Path, dtype: np.dtype, row_shape: tuple[int, ...]):
        self.path = path
        self.fd = None
        with open(path, "rb") as fh:
            try:
                major, _ = np.lib.format.read_magic(fh)
                read_header = (np.lib.format.read_array_header_1_0 if major == 1
                               else np.lib.format.read_array_header_2_0)
                self.shape, fortran, self.dtype = read_header(fh)
            except ValueError as exc:
                raise ValueError(f"{path}: not a dataset shard ({exc})") from None
            self.offset = fh.tell()
        if fortran or len(self.shape) != 1 + len(row_shape):
            raise ValueError(f"{path}: not a dataset shard (shape {self.shape}"
                             f"{', Fortran order' if fortran else ''}; expected (rows, "
                             f"{', '.join(map(str, row_shape))}))")
        self.row_shape = tuple(self.shape[1:])
        if self.row_shape != tuple(row_shape) or self.dtype != dtype:
            raise ValueError(f"{path}: rows of {self.row_shape} {self.dtype}, expected "
                             f"{tuple(row_shape)} {dtype} (rebuild the dataset)")
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self.fd = os.open(path, os.O_RDONLY)
        size = os.fstat(self.fd).st_size
        if size < self.offset + self.shape[0] * self.row_bytes:
            self.close()
            raise ValueError(f"{path}: truncated ({size} bytes; its header declares "
                             f"{self.offset + self.shape[0] * self.row_bytes})")

    def read(self, first: int, count: int) -> NDArray:
        """Rows ``first:first + count`` as an array of the shard's dtype."""
        data = os.pread(self.fd, count * self.row_bytes, self.offset + first * self.row_bytes)
        if len(data) != count * self.row_bytes:  # (the file shrank since it was opened)
            raise ValueError(f"{self.path}: rows {first}:{first + count} past its end")
        return np.frombuffer(data, dtype=self.dtype).reshape(count, *self.row_shape)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def check_layout(description: object, path: str | os.PathLike) -> None:
    """Raise ValueError unless ``description`` (the contents of the ``dataset.json`` at
    ``path``) is a dataset in :data:`LAYOUT`."""
    layout = description.get("layout") if isinstance(description, dict) else None
    if layout != LAYOUT:
        what = ("the per-window layout (layout 1: no 'layout' field)" if layout is None
                else f"layout {layout!r}")
        raise ValueError(f"{path}: a dataset in {what}; this code reads layout {LAYOUT} "
                         "(each signal's frames stored once): rebuild the dataset (rule "
                         "build_dataset)")
    spec = description.get("input")
    try:
        ok = (isinstance(spec["channels"], list) and spec["channels"]
              and all(isinstance(c, str) for c in spec["channels"])
              and all(isinstance(spec[k], int) and spec[k] > 0 for k in ("n_mels", "frames")))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise ValueError(f"{path}: no valid input description (channels, n_mels, frames); "
                         "rebuild the dataset (rule build_dataset)")


class ShardedDataset:
    """The windows of one split, read from the shard files when asked for (torch-compatible:
    ``len`` and ``__getitem__``). Only the index (as columns), each window's first row in
    its shard's frames file per channel, and the targets (a few numbers a window) are held;
    inputs are read a batch at a time (:meth:`inputs`).

    ``description``: the dataset description to use instead of ``dataset.json`` (the build
    reads its training targets before it writes that file)."""

    #: Shard files kept open at once (the least recently read is closed first)
    OPEN_FILES = 64

    def __init__(self, root: str | os.PathLike, split: str,
                 description: dict | None = None):
        self.root = Path(root)
        self._files: OrderedDict[int, _ShardFile] = OrderedDict()
        self._targets: NDArray | None = None
        desc_path = self.root / "dataset.json"
        self.description = read_json(desc_path) if description is None else description
        check_layout(self.description, desc_path)
        spec = self.description["input"]
        self.channels = list(spec["channels"])
        self.n_mels, self.frames = int(spec["n_mels"]), int(spec["frames"])
        self.index = _Index(self.root / "index.tsv", split)
        self._at, self._rows_needed = self._signal_rows(self.root / "signals.tsv", split)

    def _signal_rows(self, path: Path, split: str) -> tuple[NDArray, NDArray]:
        """Each window's first row in its shard's frames file, per channel ``(windows,
        channels)``; and the rows each shard's frames file must hold. ValueError (naming the
        file) for a window whose frames are not stored."""
        signals = _signals(path, split)
        ix = self.index
        n = len(ix)
        at = np.zeros((n, len(self.channels)), dtype=np.int64)
        needed = np.zeros(len(ix.shard_names), dtype=np.int64)
        if not n:
            return at, needed
        if ix.version.min() < 0:
            raise ValueError(f"{ix.path}: a negative version")
        # the windows of one (track, version) share their signals
        key = ix.track.astype(np.int64) * (int(ix.version.max()) + 1) + ix.version
        pairs, first_of, which = np.unique(key, return_index=True, return_inverse=True)
        base = np.zeros((pairs.size, len(self.channels)), dtype=np.int64)
        length = np.zeros((pairs.size, len(self.channels)), dtype=np.int64)
        for p, i in enumerate(first_of):
            track, version = ix.track_names[ix.track[i]], int(ix.version[i])
            shard = ix.shard_names[ix.shard[i]]
            for c, channel in enumerate(self.channels):
                stored = signals.get((track, channel, version)) or signals.get(
                    (track, channel, None))
                if stored is None:
                    raise ValueError(f"{path}: no {channel} frames of {track} v{version} "
                                     f"(index.tsv has windows of it); rebuild the dataset")
                if stored[0] != shard:
                    raise ValueError(f"{path}: the {channel} frames of {track} v{version} are "
                                     f"in {stored[0]}, its windows' targets in {shard}")
                base[p, c], length[p, c] = stored[1], stored[2]
                code = ix.shard[i]
                needed[code] = max(needed[code], stored[1] + stored[2])
        bad = np.flatnonzero((ix.frame < 0)
                             | (ix.frame[:, None] + self.frames > length[which]).any(axis=1))
        if bad.size:
            r = ix[int(bad[0])]
            raise ValueError(f"{ix.path}: window {r['window']} of {r['track_id']} "
                             f"v{r['version']} (frame {r['frame']}) lies outside its stored "
                             f"frames ({path}); {bad.size} such window(s)")
        at[:] = base[which] + ix.frame[:, None]
        return at, needed

    def _file(self, shard: int) -> _ShardFile:
        """The frames file of ``shard``, open."""
        f = self._files.get(shard)
        if f is None:
            while self._files and len(self._files) >= self.OPEN_FILES:
                self._files.popitem(last=False)[1].close()
            f = _ShardFile(self.root / f"{self.index.shard_names[shard]}.frames.npy",
                           FRAMES_DTYPE, (self.n_mels,))
            if f.shape[0] < self._rows_needed[shard]:
                f.close()
                raise ValueError(f"{f.path}: {f.shape[0]} frames, signals.tsv places "
                                 f"{self._rows_needed[shard]} in it (rebuild the dataset)")
            self._files[shard] = f
        self._files.move_to_end(shard)
        return f

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[NDArray, NDArray, float]:
        return (self.inputs([i])[0], self.targets([i])[0], float(self.index.weight[i]))

    def inputs(self, rows: Sequence[int] | NDArray, channels: Sequence[int] | None = None
               ) -> NDArray[np.float32]:
        """The log-mel windows ``rows`` (positions in this split, in this order) as float32
        ``(len(rows), channels, n_mels, frames)``; ``channels`` picks input channels."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size == 0:
            raise IndexError("no rows asked for")
        chans = (list(range(len(self.channels))) if channels is None
                 else [int(c) for c in channels])
        k, width = len(chans), self.frames
        out = np.empty((rows.size, k, self.n_mels, width), dtype=np.float32)
        flat = out.reshape(rows.size * k, self.n_mels, width)  # a view: (window, channel)
        shard = np.repeat(self.index.shard[rows], k)
        at = self._at[rows][:, chans].reshape(-1)
        order = np.lexsort((at, shard))
        shard, at = shard[order], at[order]
        # windows of a shard whose frames overlap or touch are read in one call
        cut = np.flatnonzero((np.diff(shard) != 0) | (np.diff(at) > width)) + 1
        for a, b in zip(np.r_[0, cut], np.r_[cut, order.size]):
            first = int(at[a])
            block = self._file(int(shard[a])).read(first, int(at[b - 1]) - first + width)
            if b - a == 1:  # (the float16 -> float32 cast)
                flat[order[a]] = block.T
                continue
            # windows[i] is block[i:i + width].T: (n_mels, width), a view
            windows = np.lib.stride_tricks.sliding_window_view(block, width, axis=0)
            flat[order[a:b]] = windows[at[a:b] - first]
        return out

    def targets(self, rows: Sequence[int] | NDArray | None = None) -> NDArray[np.float32]:
        """The targets of ``rows`` (default: every window of the split), ``(n, targets)``."""
        if self._targets is None:
            y = np.zeros((len(self), len(TARGETS)), dtype=np.float32)
            for shard in np.unique(self.index.shard):
                at = np.flatnonzero(self.index.shard == shard)
                f = _ShardFile(self.root / f"{self.index.shard_names[shard]}.targets.npy",
                               TARGETS_DTYPE, (len(TARGETS),))
                try:
                    if self.index.row[at].max() >= f.shape[0] or self.index.row[at].min() < 0:
                        raise ValueError(f"{f.path}: {f.shape[0]} windows' targets, the index "
                                         f"gives rows up to {self.index.row[at].max()}")
                    y[at] = f.read(0, f.shape[0])[self.index.row[at]]
                finally:
                    f.close()
            self._targets = y
        return self._targets if rows is None else self._targets[np.asarray(rows, np.int64)]

    def targets_all(self) -> NDArray:
        return self.targets()

    @property
    def weights(self) -> NDArray[np.float64]:
        return self.index.weight

    def rows_view(self, rows: Sequence[int] | NDArray) -> _RowsView:
        """Index rows ``rows`` as a sequence of dicts (see :class:`_Index`)."""
        return _RowsView(self.index, np.asarray(rows, dtype=np.int64))

    def tracks(self) -> list[str]:
        return sorted(self.index.track_names)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass
