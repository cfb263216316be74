"""The training dataset (rule ``build_dataset``): windows of model inputs and targets.

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

Windows are written in shards of ``shard_size`` per split (``<split>_<i>.inputs.npy`` and
``.targets.npy``) with ``index.tsv`` (one row per window: track, split, source, version, window,
start, silent, weight, shard, row) and ``dataset.json`` (target names, input layout, counts,
training-split target means and standard deviations, and each corrupted version's EQ, for
:mod:`vocalmix.models.augment`). Splits are by track -- every window of a track is in the
track's split.

Memory does not grow with the corpus or with a song's length: every audio file is streamed
in blocks (the backing's loudness normalisation by the streaming BS.1770 meter first), its
log-mel frames go to a temporary file beside the shards as they are computed, and a window is
read back from there when it is written; a shard is filled in one preallocated buffer, and
the index is written row by row. :class:`ShardedDataset` reads the windows it is asked for
from the shard files (never a whole split), so training on hours of audio needs little RAM.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import tempfile
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
from vocalmix.files import atomic_path, read_json, write_json
from vocalmix.measure import loudness
from vocalmix.measure.mel import LogMel
from vocalmix.measure.spectrum import OCTAVE_HZ, THIRD_OCTAVE_HZ, octave_shape_db
from vocalmix.models.augment import correction_shape_db
from vocalmix.tables import text

log = logging.getLogger(__name__)

__all__ = ["DatasetSettings", "window_frames", "TARGETS", "eq_target_names",
           "tone_target_names", "build",
           "ShardedDataset", "normalise_level", "normalising_gain", "log_mel_blocks",
           "INDEX_COLUMNS"]

NORMALISED_LUFS = -23.0
REVERB_TARGETS = ("reverb_log_t60", "reverb_damping", "reverb_wet_db", "reverb_predelay_ms",
                  "reverb_drr_db")
INDEX_COLUMNS = ("track_id", "split", "source", "version", "window", "start_s", "silent",
                 "weight", "shard", "row")
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


def normalise_level(audio: NDArray, sample_rate: int, target: float = NORMALISED_LUFS
                    ) -> NDArray[np.float32]:
    """``audio`` scaled to ``target`` LUFS integrated (silence is returned as it is)."""
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


class _MelFile:
    """A signal's log-mel frames in an anonymous temporary file (frame-major float32 rows),
    written block by block and read back a window at a time: a whole song's frames are never
    in memory."""

    def __init__(self, path: str | os.PathLike, mel: LogMel, *, gain: float | None,
                 sample_rate: int | None, tmp_dir: Path):
        with open_audio(path) as stream:
            n_samples = stream.frames
        self.n_mels = mel.n_mels
        self.fh = tempfile.TemporaryFile(dir=tmp_dir)
        counted = [0]
        self.frames = 0
        for _, block in log_mel_blocks(_mono_blocks(path, gain, sample_rate, counted),
                                       n_samples, mel):
            self.fh.write(np.ascontiguousarray(block.T).tobytes())
            self.frames += block.shape[1]
        if counted[0] != n_samples:
            self.close()
            raise AudioError(path, f"{counted[0]} samples read, the header declares {n_samples}")

    def window(self, f0: int, f1: int) -> NDArray[np.float32]:
        """Frames ``f0:f1`` as ``(n_mels, f1 - f0)``."""
        row = self.n_mels * 4
        self.fh.seek(int(f0) * row)
        data = self.fh.read((int(f1) - int(f0)) * row)
        return np.frombuffer(data, dtype=np.float32).reshape(-1, self.n_mels).T

    def close(self) -> None:
        self.fh.close()


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
    """A split's shards, each filled in one preallocated buffer and written when full."""

    def __init__(self, out_dir: Path, split: str, size: int):
        self.out_dir, self.split, self.size = out_dir, split, size
        self.inputs: NDArray | None = None  # (size, channels, n_mels, frames) float16
        self.targets: NDArray | None = None  # (size, targets) float32
        self.count = 0
        self.shard = 0
        self.rows = 0

    def add(self, x: NDArray, y: NDArray) -> tuple[str, int]:
        if self.inputs is None:
            self.inputs = np.empty((self.size, *x.shape), dtype=np.float16)
            self.targets = np.empty((self.size, *y.shape), dtype=np.float32)
        self.inputs[self.count] = x  # the float16 cast the shard file stores
        self.targets[self.count] = y
        name, row = f"{self.split}_{self.shard:03d}", self.count
        self.count += 1
        if self.count >= self.size:
            self.flush()
        return name, row

    def flush(self) -> None:
        if not self.count:
            return
        name = f"{self.split}_{self.shard:03d}"
        for suffix, array in ((".inputs.npy", self.inputs), (".targets.npy", self.targets)):
            with atomic_path(self.out_dir / f"{name}{suffix}") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, array[: self.count])
        self.rows += self.count
        self.count = 0
        self.shard += 1


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
    with atomic_path(out / "index.tsv") as index_tmp, \
            open(index_tmp, "w", newline="") as index_fh:
        index = csv.writer(index_fh, delimiter="\t", lineterminator="\n")
        index.writerow(INDEX_COLUMNS)
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
            writer = writers.setdefault(
                t["split"], _ShardWriter(out, t["split"], int(settings.shard_size)))
            split_counts = counts.setdefault(t["split"], {"windows": 0, "tracks": set()})
            backing = _MelFile(t["backing"], mel, gain=normalising_gain(t["backing"]),
                               sample_rate=sample_rate, tmp_dir=out)
            try:
                for version, (apath, ppath) in enumerate(t["corrupted"]):
                    corruption = read_json(ppath)
                    corruption_eq[f"{t['track_id']}/{version}"] = corruption["eq"]
                    constant = track_targets(feats, corruption, sample_rate)
                    vocal = _MelFile(apath, mel, gain=None, sample_rate=None, tmp_dir=out)
                    try:
                        usable = min(vocal.frames, backing.frames)
                        for w, f0 in zip(track_windows, first):
                            f1 = f0 + frames_per_window
                            if f1 > usable:
                                continue
                            x = np.stack([vocal.window(f0, f1), backing.window(f0, f1)])
                            silent = w["silent"] == "1"
                            targets = {"level_lu": (math.nan if silent
                                                    else _float(w["vocal_to_backing_lu"])),
                                       **constant}
                            y = np.array([targets[k] for k in TARGETS], dtype=np.float32)
                            shard, row = writer.add(x, y)
                            index.writerow([text(v) for v in (
                                t["track_id"], t["split"], t.get("source") or "stems",
                                version, int(w["window"]), float(w["start_s"]), int(silent),
                                float(t.get("weight", 1.0)), shard, row)])
                            split_counts["windows"] += 1
                            split_counts["tracks"].add(t["track_id"])
                    finally:
                        vocal.close()
            finally:
                backing.close()
        for w in writers.values():
            w.flush()
        if not any(c["windows"] for c in counts.values()):
            raise ValueError("the dataset is empty: no track with a processed vocal and a "
                             "window")
    ds = ShardedDataset(out, split="train", stats=False)
    y = ds.targets_all()
    with warnings.catch_warnings():  # a target with no finite value (a band above Nyquist)
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(y, axis=0) if y.size else np.zeros(len(TARGETS))
        std = np.nanstd(y, axis=0) if y.size else np.ones(len(TARGETS))
    desc = {
        "targets": TARGETS, "reverb_targets": list(REVERB_TARGETS),
        "eq_bands_hz": [float(f) for f in THIRD_OCTAVE_HZ],
        "input": {"channels": ["vocal", "backing"], **mel.spec(), "window_s": window_s,
                  "windows": dataclasses.asdict(windows),
                  "frames": int(frames_per_window), "normalised_lufs": NORMALISED_LUFS,
                  "dtype": "float16"},
        "counts": {s: {"windows": c["windows"], "tracks": len(c["tracks"])}
                   for s, c in sorted(counts.items()) if c["windows"]},
        "train_mean": [None if not np.isfinite(m) else float(m) for m in mean],
        "train_std": [None if not np.isfinite(s) or s == 0 else float(s) for s in std],
        "corruption_eq": corruption_eq,
    }
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
                                                 "start_s", "silent", "weight", "shard",
                                                 "row")}
        with open(path, newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = next(reader, None)
            if header is None or tuple(header) != INDEX_COLUMNS:
                raise ValueError(f"{path}: not a dataset index (columns {header}, expected "
                                 f"{', '.join(INDEX_COLUMNS)})")
            for r in reader:
                if r[1] != split:
                    continue
                cols["track"].append(tracks.setdefault(r[0], len(tracks)))
                cols["source"].append(sources.setdefault(r[2], len(sources)))
                cols["version"].append(int(r[3]))
                cols["window"].append(int(r[4]))
                cols["start_s"].append(float(r[5]))
                cols["silent"].append(int(r[6]))
                cols["weight"].append(float(r[7]))
                cols["shard"].append(shards.setdefault(r[8], len(shards)))
                cols["row"].append(int(r[9]))
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
        self.shard = np.asarray(cols["shard"], dtype=np.int32)
        self.row = np.asarray(cols["row"], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.track.size)

    def __getitem__(self, i: int) -> dict[str, str]:
        return {"track_id": self.track_names[self.track[i]], "split": self.split,
                "source": self.source_names[self.source[i]], "version": str(self.version[i]),
                "window": str(self.window[i]), "start_s": str(float(self.start_s[i])),
                "silent": str(self.silent[i]), "weight": str(float(self.weight[i])),
                "shard": self.shard_names[self.shard[i]], "row": str(self.row[i])}

    def __iter__(self) -> Iterator[dict[str, str]]:
        return (self[i] for i in range(len(self)))

    def track_ids(self, rows: Sequence[int] | NDArray | None = None) -> list[str]:
        """The track id of each of ``rows`` (default: every row)."""
        codes = self.track if rows is None else self.track[np.asarray(rows, dtype=np.int64)]
        return [self.track_names[c] for c in codes]


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
    """One ``.npy`` shard read by rows with ``pread`` (neither loaded nor memory-mapped: the
    pages of a memory-mapped file count towards a job's RSS once touched, so a training
    epoch over a mapped dataset would hold all of it)."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as fh:
            try:
                major, _ = np.lib.format.read_magic(fh)
                read_header = (np.lib.format.read_array_header_1_0 if major == 1
                               else np.lib.format.read_array_header_2_0)
                self.shape, fortran, self.dtype = read_header(fh)
            except ValueError as exc:
                raise ValueError(f"{path}: not a dataset shard ({exc})") from None
            self.offset = fh.tell()
        if fortran or not self.shape:
            raise ValueError(f"{path}: not a dataset shard (shape {self.shape})")
        self.row_shape = tuple(self.shape[1:])
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self.fd = os.open(path, os.O_RDONLY)
        size = os.fstat(self.fd).st_size
        if size < self.offset + self.shape[0] * self.row_bytes:
            os.close(self.fd)
            raise ValueError(f"{path}: truncated ({size} bytes; its header declares "
                             f"{self.offset + self.shape[0] * self.row_bytes})")

    def read(self, first: int, count: int) -> NDArray:
        """Rows ``first:first + count`` as an array of the shard's dtype."""
        data = os.pread(self.fd, count * self.row_bytes, self.offset + first * self.row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(count, *self.row_shape)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class ShardedDataset:
    """The windows of one split, read from the shard files when asked for (torch-compatible:
    ``len`` and ``__getitem__``). Only the index (as columns) and the targets (a few numbers a
    window) are held; inputs are read a batch at a time (:meth:`inputs`)."""

    #: Shard files kept open at once (the least recently read is closed first)
    OPEN_FILES = 64

    def __init__(self, root: str | os.PathLike, split: str, stats: bool = True):
        self.root = Path(root)
        self.index = _Index(self.root / "index.tsv", split)
        self._files: OrderedDict[int, _ShardFile] = OrderedDict()
        self.description = read_json(self.root / "dataset.json") if stats else None
        self._targets: NDArray | None = None

    def _file(self, shard: int) -> _ShardFile:
        """The inputs file of ``shard``, open."""
        f = self._files.get(shard)
        if f is None:
            while self._files and len(self._files) >= self.OPEN_FILES:
                self._files.popitem(last=False)[1].close()
            name = f"{self.index.shard_names[shard]}.inputs.npy"
            f = self._files[shard] = _ShardFile(self.root / name)
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
        shard, row = self.index.shard[rows], self.index.row[rows]
        order = np.lexsort((row, shard))
        shard, row = shard[order], row[order]
        # rows of one shard that lie next to each other on disk are read in one call
        cut = np.flatnonzero((np.diff(shard) != 0) | (np.diff(row) != 1)) + 1
        out = None
        for a, b in zip(np.r_[0, cut], np.r_[cut, order.size]):
            block = self._file(int(shard[a])).read(int(row[a]), int(b - a))
            if channels is not None:
                block = block[:, list(channels)]
            if out is None:
                out = np.empty((rows.size, *block.shape[1:]), dtype=np.float32)
            out[order[a:b]] = block
        return out

    def targets(self, rows: Sequence[int] | NDArray | None = None) -> NDArray[np.float32]:
        """The targets of ``rows`` (default: every window of the split), ``(n, targets)``."""
        if self._targets is None:
            y = np.zeros((len(self), len(TARGETS)), dtype=np.float32)
            for shard in np.unique(self.index.shard):
                at = np.flatnonzero(self.index.shard == shard)
                f = _ShardFile(self.root / f"{self.index.shard_names[shard]}.targets.npy")
                try:
                    if f.row_shape != (len(TARGETS),):
                        raise ValueError(f"{f.path}: {f.row_shape} targets a window, expected "
                                         f"{len(TARGETS)} (rebuild the dataset)")
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
