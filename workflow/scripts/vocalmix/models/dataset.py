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
:mod:`vocalmix.models.augment`). Splits are by track -- every window of
a track is in the track's split -- and the shards are memory-mapped when read, so training
on hours of audio needs little RAM.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import warnings
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import AudioError, db_to_gain, read_audio
from vocalmix.config import schema_settings
from vocalmix.dsp.effects import EQBand, eq_response_db
from vocalmix.features.extract import WindowSettings
from vocalmix.files import atomic_path, read_json, write_json
from vocalmix.measure import loudness
from vocalmix.measure.mel import LogMel
from vocalmix.measure.spectrum import THIRD_OCTAVE_HZ
from vocalmix.models.augment import correction_shape_db
from vocalmix.tables import write_table

log = logging.getLogger(__name__)

__all__ = ["DatasetSettings", "window_frames", "TARGETS", "eq_target_names", "build",
           "ShardedDataset", "normalise_level"]

NORMALISED_LUFS = -23.0
REVERB_TARGETS = ("reverb_log_t60", "reverb_damping", "reverb_wet_db", "reverb_predelay_ms")


def eq_target_names() -> list[str]:
    return [f"eq_{f:.0f}" for f in THIRD_OCTAVE_HZ]


TARGETS = ["level_lu", *eq_target_names(), "lra_lu", *REVERB_TARGETS]


def normalise_level(audio: NDArray, sample_rate: int, target: float = NORMALISED_LUFS
                    ) -> NDArray[np.float32]:
    """``audio`` scaled to ``target`` LUFS integrated (silence is returned as it is)."""
    lufs = loudness.integrated_loudness(np.atleast_2d(audio), sample_rate)
    if not math.isfinite(lufs):
        return np.asarray(audio, dtype=np.float32)
    return (np.asarray(audio, dtype=np.float32) * np.float32(db_to_gain(target - lufs)))


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
    out["lra_lu"] = _float((features.get("vocal") or {}).get("loudness_range_lu"))
    rv = features.get("reverb") or {}
    if rv.get("params") and (rv.get("fitted") or {}).get("t60_mid_s"):
        out.update(reverb_log_t60=math.log(rv["fitted"]["t60_mid_s"]),
                   reverb_damping=rv["params"]["damping"], reverb_wet_db=rv["params"]["wet_db"],
                   reverb_predelay_ms=rv["params"]["predelay_ms"])
    else:
        out.update({k: math.nan for k in REVERB_TARGETS})
    return out


class _ShardWriter:
    def __init__(self, out_dir: Path, split: str, size: int):
        self.out_dir, self.split, self.size = out_dir, split, size
        self.inputs: list[NDArray] = []
        self.targets: list[NDArray] = []
        self.shard = 0
        self.rows = 0

    def add(self, x: NDArray, y: NDArray) -> tuple[str, int]:
        self.inputs.append(x)
        self.targets.append(y)
        name, row = f"{self.split}_{self.shard:03d}", len(self.inputs) - 1
        if len(self.inputs) >= self.size:
            self.flush()
        return name, row

    def flush(self) -> None:
        if not self.inputs:
            return
        name = f"{self.split}_{self.shard:03d}"
        for suffix, arrays, dtype in ((".inputs.npy", self.inputs, np.float16),
                                      (".targets.npy", self.targets, np.float32)):
            with atomic_path(self.out_dir / f"{name}{suffix}") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, np.stack(arrays).astype(dtype))
        self.rows += len(self.inputs)
        self.inputs, self.targets = [], []
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
    Returns the dataset description."""
    window_s = float(windows.window_s)
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mel = LogMel(sample_rate, int(settings.n_fft), int(settings.hop), int(settings.n_mels))
    writers: dict[str, _ShardWriter] = {}
    index_rows: list[dict] = []
    corruption_eq: dict[str, list] = {}
    frames_per_window = None
    for t in tqdm(sorted(tracks, key=lambda t: t["track_id"]), desc="dataset", unit="track",
                  mininterval=1.0):
        feats = read_json(t["features"])
        track_windows = _windows_table(t["windows"])
        if not track_windows:
            log.warning("%s: no analysis window (shorter than %.1f s); skipped", t["track_id"],
                        window_s)
            continue
        backing, sr = read_audio(t["backing"])
        if sr != sample_rate:
            raise AudioError(t["backing"], f"{sr} Hz, expected {sample_rate} Hz")
        b_mel = mel(normalise_level(backing, sr).mean(axis=0))
        starts = [float(w["start_s"]) for w in track_windows]
        first, frames_per_window = window_frames(starts, window_s, mel)
        writer = writers.setdefault(
            t["split"], _ShardWriter(out, t["split"], int(settings.shard_size)))
        for version, (apath, ppath) in enumerate(t["corrupted"]):
            vocal, _ = read_audio(apath)
            v_mel = mel(vocal.mean(axis=0))
            corruption = read_json(ppath)
            corruption_eq[f"{t['track_id']}/{version}"] = corruption["eq"]
            constant = track_targets(feats, corruption, sample_rate)
            for w, f0 in zip(track_windows, first):
                f1 = f0 + frames_per_window
                if f1 > min(v_mel.shape[1], b_mel.shape[1]):
                    continue
                x = np.stack([v_mel[:, f0:f1], b_mel[:, f0:f1]])
                silent = w["silent"] == "1"
                targets = {"level_lu": math.nan if silent else _float(w["vocal_to_backing_lu"]),
                           **constant}
                y = np.array([targets[k] for k in TARGETS], dtype=np.float32)
                shard, row = writer.add(x, y)
                index_rows.append({"track_id": t["track_id"], "split": t["split"],
                                   "source": t.get("source") or "stems", "version": version,
                                   "window": int(w["window"]),
                                   "start_s": float(w["start_s"]), "silent": int(silent),
                                   "weight": float(t.get("weight", 1.0)), "shard": shard,
                                   "row": row})
    for w in writers.values():
        w.flush()
    if not index_rows:
        raise ValueError("the dataset is empty: no track with a processed vocal and a window")
    cols = ["track_id", "split", "source", "version", "window", "start_s", "silent", "weight",
            "shard", "row"]
    write_table(out / "index.tsv", index_rows, cols)
    ds = ShardedDataset(out, split="train", stats=False)
    y = ds.targets_all()
    with warnings.catch_warnings():  # a target with no finite value (a band above Nyquist)
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(y, axis=0) if y.size else np.zeros(len(TARGETS))
        std = np.nanstd(y, axis=0) if y.size else np.ones(len(TARGETS))
    splits = sorted({r["split"] for r in index_rows})
    desc = {
        "targets": TARGETS, "reverb_targets": list(REVERB_TARGETS),
        "eq_bands_hz": [float(f) for f in THIRD_OCTAVE_HZ],
        "input": {"channels": ["vocal", "backing"], **mel.spec(), "window_s": window_s,
                  "windows": dataclasses.asdict(windows),
                  "frames": int(frames_per_window), "normalised_lufs": NORMALISED_LUFS,
                  "dtype": "float16"},
        "counts": {s: {"windows": sum(r["split"] == s for r in index_rows),
                       "tracks": len({r["track_id"] for r in index_rows if r["split"] == s})}
                   for s in splits},
        "train_mean": [None if not np.isfinite(m) else float(m) for m in mean],
        "train_std": [None if not np.isfinite(s) or s == 0 else float(s) for s in std],
        "corruption_eq": corruption_eq,
    }
    write_json(out / "dataset.json", desc)
    return desc


class ShardedDataset:
    """Memory-mapped windows of one split (torch-compatible: ``len`` and ``__getitem__``)."""

    def __init__(self, root: str | os.PathLike, split: str, stats: bool = True):
        self.root = Path(root)
        with open(self.root / "index.tsv", newline="") as fh:
            self.index = [r for r in csv.DictReader(fh, delimiter="\t") if r["split"] == split]
        self._inputs: dict[str, NDArray] = {}
        self._targets: dict[str, NDArray] = {}
        self.description = read_json(self.root / "dataset.json") if stats else None

    def _load(self, shard: str):
        if shard not in self._inputs:
            self._inputs[shard] = np.load(self.root / f"{shard}.inputs.npy", mmap_mode="r")
            self._targets[shard] = np.load(self.root / f"{shard}.targets.npy", mmap_mode="r")
        return self._inputs[shard], self._targets[shard]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[NDArray, NDArray, float]:
        r = self.index[i]
        x, y = self._load(r["shard"])
        k = int(r["row"])
        return np.asarray(x[k], dtype=np.float32), np.asarray(y[k]), float(r["weight"])

    def targets_all(self) -> NDArray:
        if not self.index:
            return np.zeros((0, len(TARGETS)), dtype=np.float32)
        return np.stack([self._load(r["shard"])[1][int(r["row"])] for r in self.index])

    def tracks(self) -> list[str]:
        return sorted({r["track_id"] for r in self.index})
