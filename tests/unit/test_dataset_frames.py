"""The dataset's frames layout (issue 19, disk): each signal's log-mel frames are stored
once -- the backing once per track, each corrupted vocal once per version -- and a window is
read back from them as the per-window layout stored it, bit for bit, in about a third of the
disk for 3-s windows every 1 s. Built from a small generated corpus (noise, no pipeline
stage before the dataset), so it runs in seconds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from vocalmix.audio import read_audio, write_audio
from vocalmix.dsp.corruption import inverse_eq, random_eq
from vocalmix.features.extract import WindowSettings
from vocalmix.files import read_json, write_json
from vocalmix.measure.mel import LogMel
from vocalmix.models.dataset import (LAYOUT, DatasetSettings, ShardedDataset, build,
                                     normalise_level, window_frames)

SR = 22050
WINDOWS = WindowSettings(window_s=3.0, hop_s=1.0, gate_lu=-20.0, min_active_fraction=0.25)
SETTINGS = DatasetSettings(n_mels=32, n_fft=1024, hop=512, shard_size=64)
#: (track, split, seconds); demo_c is a little longer than its backing's windows need
TRACKS = (("demo_a", "train", 40.0), ("demo_b", "train", 23.5), ("demo_c", "valid", 31.2))
VERSIONS = 2


def _corpus(root: Path, versions: int = VERSIONS) -> list[dict]:
    rng = np.random.default_rng(19)
    tracks = []
    for tid, split, seconds in TRACKS:
        d = root / "audio" / tid
        d.mkdir(parents=True)
        n = int(seconds * SR)
        backing = (0.1 * rng.standard_normal((2, n))).astype(np.float32)
        write_audio(d / "backing.wav", backing, SR)
        windows = []
        for w, start in enumerate(np.arange(0.0, seconds - WINDOWS.window_s + 1e-9,
                                            WINDOWS.hop_s)):
            silent = int(w % 5 == 3)
            windows.append({"track_id": tid, "window": w, "start_s": f"{start:.4f}",
                            "silent": silent,
                            "vocal_to_backing_lu": "" if silent else f"{rng.normal():.4f}"})
        with open(d / "windows.tsv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(windows[0]), delimiter="\t")
            writer.writeheader()
            writer.writerows(windows)
        write_json(d / "features.json", {"vocal": {"loudness_range_lu": 6.5}, "reverb": {}})
        corrupted = []
        for v in range(versions):
            # a version may be a little shorter than the backing (its windows stop there)
            vocal = (0.05 * rng.standard_normal((1, n - v * 3000))).astype(np.float32)
            write_audio(d / f"v{v}.wav", vocal, SR)
            eq = random_eq(rng)
            write_json(d / f"v{v}.json", {"eq": [b.to_dict() for b in eq],
                                          "inverse_eq": [b.to_dict() for b in inverse_eq(eq)]})
            corrupted.append((str(d / f"v{v}.wav"), str(d / f"v{v}.json")))
        tracks.append({"track_id": tid, "split": split, "weight": 1.0, "source": "stems",
                       "backing": str(d / "backing.wav"), "features": str(d / "features.json"),
                       "windows": str(d / "windows.tsv"), "corrupted": corrupted})
    return tracks


def _per_window(tracks: list[dict], index: list[dict], spec: dict) -> list[np.ndarray]:
    """The straightforward construction the per-window layout stored: each window cut from
    the log-mels of the whole signals (the backing normalised to -23 LUFS on the whole
    array), float16."""
    mel = LogMel(SR, spec["n_fft"], spec["hop"], spec["n_mels"])
    by_id = {t["track_id"]: t for t in tracks}
    mels: dict[tuple, np.ndarray] = {}
    out = []
    for r in index:
        t = by_id[r["track_id"]]
        if (t["track_id"], "b") not in mels:
            backing, _ = read_audio(t["backing"])
            mels[t["track_id"], "b"] = mel(normalise_level(backing, SR).mean(axis=0))
        v = int(r["version"])
        if (t["track_id"], v) not in mels:
            vocal, _ = read_audio(t["corrupted"][v][0])
            mels[t["track_id"], v] = mel(vocal.mean(axis=0))
        (f0,), n = window_frames([float(r["start_s"])], spec["window_s"], mel)
        out.append(np.stack([mels[t["track_id"], v][:, f0: f0 + n],
                             mels[t["track_id"], "b"][:, f0: f0 + n]]).astype(np.float16))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    tracks = _corpus(root)
    desc = build(tracks, root / "dataset", sample_rate=SR, windows=WINDOWS, settings=SETTINGS)
    with open(root / "dataset" / "index.tsv", newline="") as fh:
        index = list(csv.DictReader(fh, delimiter="\t"))
    return {"root": root, "dataset": root / "dataset", "tracks": tracks, "desc": desc,
            "index": index, "reference": _per_window(tracks, index, desc["input"])}


def test_windows_read_back_are_the_per_window_constructions_bit_for_bit(built):
    desc, index, ref = built["desc"], built["index"], built["reference"]
    assert desc["layout"] == LAYOUT == read_json(built["dataset"] / "dataset.json")["layout"]
    # every window the tracks have within both signals, none other
    for t in built["tracks"]:
        rows = [r for r in index if r["track_id"] == t["track_id"]]
        assert {r["version"] for r in rows} == {str(v) for v in range(VERSIONS)}
    # v1 is shorter than the backing: demo_a (40 s) loses its last window there
    assert (sum(r["track_id"] == "demo_a" and r["version"] == "0" for r in index)
            == sum(r["track_id"] == "demo_a" and r["version"] == "1" for r in index) + 1)
    position = {}
    for split in ("train", "valid"):
        ds = ShardedDataset(built["dataset"], split)
        assert len(ds) == desc["counts"][split]["windows"]
        for k, r in enumerate(ds.index):
            position[split, k] = r
        every = ds.inputs(np.arange(len(ds)))
        at = [i for i, r in enumerate(index) if r["split"] == split]
        assert every.dtype == np.float32
        for k, i in enumerate(at):
            assert ds.index[k]["window"] == index[i]["window"]
            assert np.array_equal(every[k].view(np.uint32),
                                  ref[i].astype(np.float32).view(np.uint32)), index[i]
        # any order, any channels, a repeated row; with one file open at a time too (the
        # training split's two tracks are in two shards: the first fills one)
        assert len(ds.index.shard_names) == (2 if split == "train" else 1)
        rows = np.r_[np.random.default_rng(0).permutation(len(ds))[:23], 5, 5]
        for open_files in (ShardedDataset.OPEN_FILES, 1):
            reader = ShardedDataset(built["dataset"], split)
            reader.OPEN_FILES = open_files
            for channels in (None, [1], [1, 0], [0]):
                got = reader.inputs(rows, channels)
                want = every[rows] if channels is None else every[rows][:, channels]
                assert np.array_equal(got, want)
            x, y, w = reader[3]
            assert np.array_equal(x, every[3]) and w == 1.0
            assert np.array_equal(y, ds.targets([3])[0], equal_nan=True)
    # the targets: as the index says (silent windows carry no level)
    t = ShardedDataset(built["dataset"], "train").targets()
    silent = np.array([position["train", k]["silent"] == "1" for k in range(len(t))])
    assert np.isnan(t[silent, 0]).all() and np.isfinite(t[~silent, 0]).all()


def test_frames_are_stored_once_in_a_third_of_the_per_window_layout(built, tmp_path):
    """The frames files against the per-window layout's inputs (float16 ``(windows, 2,
    n_mels, frames)`` shards of the same windows), both measured on disk: 3-s windows every
    1 s store each frame three times; with the backing shared by ``VERSIONS`` versions, the
    ratio is (versions + 1) / (2 versions) of that. The songs' ends (frames of a last second
    that no 3-s window starts in, kept by the per-window layout less) put the measured ratio
    within 15 % above it."""
    ds_dir = built["dataset"]
    frames_files = sorted(ds_dir.glob("*.frames.npy"))
    assert not list(ds_dir.glob("*.inputs.npy"))
    new = sum(p.stat().st_size for p in frames_files)
    per_split: dict[str, list] = {}
    for r, x in zip(built["index"], built["reference"]):
        per_split.setdefault(r["split"], []).append(x)
    old = 0
    for split, xs in per_split.items():
        path = tmp_path / f"{split}_000.inputs.npy"
        np.save(path, np.stack(xs))
        old += path.stat().st_size
    expected = (VERSIONS + 1) / (2 * VERSIONS) / 3  # 1/4 for 2 versions
    ratio = new / old
    assert expected <= ratio <= expected * 1.15, (new, old, ratio)
    # the files are well-formed .npy: their headers were rewritten with the row counts
    rows = 0
    for p in frames_files:
        a = np.load(p, mmap_mode="r", allow_pickle=False)
        assert a.dtype == np.float16 and a.ndim == 2 and a.shape[1] == SETTINGS.n_mels
        rows += a.shape[0]
    assert rows == sum(c["frames"] for c in built["desc"]["counts"].values())
    # each signal once: the backing one row per track, the vocal one per version
    with open(ds_dir / "signals.tsv", newline="") as fh:
        signals = list(csv.DictReader(fh, delimiter="\t"))
    assert sorted((s["track_id"], s["signal"], s["version"]) for s in signals) == sorted(
        [(t, "backing", "") for t, _, _ in TRACKS]
        + [(t, "vocal", str(v)) for t, _, _ in TRACKS for v in range(VERSIONS)])


def test_one_version_stores_about_a_third(tmp_path):
    """With one version (no backing shared) the ratio is the windows' overlap alone: 1/3,
    with the songs' ends within 15 %."""
    tracks = _corpus(tmp_path, versions=1)
    desc = build(tracks, tmp_path / "dataset", sample_rate=SR, windows=WINDOWS,
                 settings=SETTINGS)
    new = sum(p.stat().st_size for p in (tmp_path / "dataset").glob("*.frames.npy"))
    frames = desc["input"]["frames"]
    windows = sum(c["windows"] for c in desc["counts"].values())
    per_window = windows * 2 * SETTINGS.n_mels * frames * 2  # float16, plus a header a file
    ratio = new / per_window
    assert 1 / 3 <= ratio <= 1 / 3 * 1.15, ratio


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_the_per_window_layout_is_refused(built, tmp_path):
    ds = _copy(built["dataset"], tmp_path / "old")
    desc = read_json(ds / "dataset.json")
    del desc["layout"]  # what the per-window layout's dataset.json looks like
    (ds / "dataset.json").write_text(json.dumps(desc))
    with pytest.raises(ValueError, match=r"dataset\.json: a dataset in the per-window layout"
                                         r".*rebuild the dataset"):
        ShardedDataset(ds, "train")
    desc["layout"] = LAYOUT + 1
    (ds / "dataset.json").write_text(json.dumps(desc))
    with pytest.raises(ValueError, match=rf"layout {LAYOUT + 1}.*rebuild the dataset"):
        ShardedDataset(ds, "train")


def test_damaged_frames_files_are_refused_naming_the_file(built, tmp_path):
    ds = _copy(built["dataset"], tmp_path / "bad")
    path = ds / "train_000.frames.npy"
    good = np.load(path, allow_pickle=False)
    for bad, message in ((good.astype(np.float32), r"float32, expected .*float16"),
                         (good[:, :-1], r"rows of \(31,\)"),
                         (good[:10], r"10 frames, signals.tsv places")):
        np.save(path, bad)
        reader = ShardedDataset(ds, "train")
        with pytest.raises(ValueError, match=rf"{path.name}: .*{message}"):
            reader.inputs([0])
    np.save(path, good)
    path.write_bytes(path.read_bytes()[:-100])  # truncated
    with pytest.raises(ValueError, match=rf"{path.name}: truncated"):
        ShardedDataset(ds, "train").inputs([0])
    # an object array is never unpickled: its header is refused as not float16
    np.save(path, np.array([[None]] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=rf"{path.name}: "):
        ShardedDataset(ds, "train").inputs([0])


def test_a_window_outside_its_stored_frames_is_refused(built, tmp_path):
    ds = _copy(built["dataset"], tmp_path / "bad")
    lines = (ds / "index.tsv").read_text().splitlines()
    head, first = lines[0].split("\t"), lines[1].split("\t")
    first[head.index("frame")] = "100000"
    (ds / "index.tsv").write_text("\n".join([lines[0], "\t".join(first), *lines[2:]]) + "\n")
    with pytest.raises(ValueError, match=r"index\.tsv: window .* lies outside its stored"):
        ShardedDataset(ds, first[head.index("split")])
