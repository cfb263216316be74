"""Ingestion: bad input is reported in rejected.tsv, naming the file and the problem, and
never stops the other tracks; the manifest validates; the output is deterministic."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf

from vocalmix.config import validate_config
from vocalmix.corpus.tracks import CorpusError
from vocalmix.stages.ingest import ingest as ingest_stage
from vocalmix.corpus.manifest import read_manifest, read_rejected

SR = 16000


def wav(path, seconds=4.0, channels=1, sr=SR, level=0.1, freq=220.0, subtype="PCM_16"):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = np.tile((level * np.sin(2 * np.pi * freq * t))[:, None], (1, channels))
    sf.write(path, x, sr, subtype=subtype)
    return path


def good(root, name, **kw):
    wav(root / name / "vocals.wav", **kw)
    wav(root / name / "accompaniment.wav", channels=2, freq=110.0, **kw)


@pytest.fixture()
def dataset(tmp_path):
    """A folder dataset with two good tracks and one of every kind of bad input."""
    root = tmp_path / "takes"
    good(root, "good_one")
    good(root, "good_two")
    # unreadable file
    good(root, "unreadable")
    (root / "unreadable" / "vocals.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    # truncated file
    good(root, "truncated")
    data = (root / "truncated" / "vocals.wav").read_bytes()
    (root / "truncated" / "vocals.wav").write_bytes(data[: len(data) // 2])
    # NaN samples (float WAV)
    good(root, "nan")
    x = np.full((4 * SR, 1), 0.1, dtype=np.float32)
    x[100] = np.nan
    sf.write(root / "nan" / "vocals.wav", x, SR, subtype="FLOAT")
    # all-silent vocal
    good(root, "silent")
    wav(root / "silent" / "vocals.wav", level=0.0)
    # shorter than the analysis window
    good(root, "short", seconds=1.0)
    # stems of different lengths
    good(root, "lengths")
    wav(root / "lengths" / "vocals.wav", seconds=3.0)
    # stems of different sample rates
    good(root, "rates")
    wav(root / "rates" / "vocals.wav", sr=22050)
    # missing stem
    wav(root / "missing" / "vocals.wav")
    # a 3-channel stem
    good(root, "surround")
    wav(root / "surround" / "accompaniment.wav", channels=3)
    # mono vocal, stereo backing, mono mixture: fine (the normal case)
    good(root, "mono_stereo")
    wav(root / "mono_stereo" / "mixture.wav")
    return root


def ingest(tmp_path, *datasets, threads=1, **extra):
    cfg = validate_config({"datasets": list(datasets), "seed": 3, "sample_rate": 22050,
                           "ingest": {"test_fraction": 0.0, "valid_fraction": 0.0}, **extra})
    out = {"tracks": str(tmp_path / "corpus" / "tracks.tsv"),
           "rejected": str(tmp_path / "corpus" / "rejected.tsv"),
           "audio": str(tmp_path / "corpus" / "audio")}
    ingest_stage({}, out, {"config": cfg}, threads=threads)
    return out


def test_bad_tracks_are_rejected_with_file_and_reason(tmp_path, dataset):
    out = ingest(tmp_path, {"adapter": "folder", "root": str(dataset)})
    rows = read_manifest(out["tracks"])
    assert sorted(r["track_id"] for r in rows) == ["folder_good-one", "folder_good-two",
                                                   "folder_mono-stereo"]
    rejected = {r["track_id"]: r for r in read_rejected(out["rejected"])}
    expect = {
        "folder_unreadable": ("unreadable/vocals.wav", "not readable"),
        "folder_truncated": ("truncated/vocals.wav", "truncated"),
        "folder_nan": ("nan/vocals.wav", "NaN"),
        "folder_silent": ("silent/vocals.wav", "silent"),
        "folder_short": ("short/", "shorter than the 3.0 s analysis window"),
        "folder_lengths": ("lengths/vocals.wav", "3.00 s"),
        "folder_rates": ("rates/", "sample rate"),
        "folder_missing": ("missing/accompaniment.wav", "missing accompaniment"),
        "folder_surround": ("surround/accompaniment.wav", "3 channels"),
    }
    assert set(rejected) == set(expect)
    for tid, (file_part, reason_part) in expect.items():
        assert file_part in rejected[tid]["file"], tid
        assert reason_part in rejected[tid]["reason"], (tid, rejected[tid]["reason"])


def test_accepted_audio_is_standardised(tmp_path, dataset):
    out = ingest(tmp_path, {"adapter": "folder", "root": str(dataset)})
    row = {r["track_id"]: r for r in read_manifest(out["tracks"])}["folder_mono-stereo"]
    assert row["sample_rate"] == 22050 and row["vocal_channels"] == 1
    assert row["backing_channels"] == 2 and row["duration_s"] == pytest.approx(4.0, abs=1e-3)
    x, sr = sf.read(row["vocal"], always_2d=True)
    assert sr == 22050 and x.shape == (4 * 22050, 1)
    assert "resampled 16000 -> 22050 Hz" in row["notes"]


def test_ingestion_is_deterministic_and_parallel_safe(tmp_path, dataset):
    def digest(out):
        h = hashlib.sha256()
        for r in read_manifest(out["tracks"]):
            for role in ("vocal", "backing", "mixture"):
                with open(r[role], "rb") as fh:
                    h.update(fh.read())
        return h.hexdigest()

    a = ingest(tmp_path / "a", {"adapter": "folder", "root": str(dataset)}, threads=1)
    b = ingest(tmp_path / "b", {"adapter": "folder", "root": str(dataset)}, threads=2)
    assert digest(a) == digest(b)
    assert open(a["rejected"]).read() == open(b["rejected"]).read()


def test_everything_rejected_is_one_clear_error(tmp_path):
    root = tmp_path / "bad"
    wav(root / "x" / "vocals.wav", level=0.0)
    wav(root / "x" / "accompaniment.wav")
    with pytest.raises(CorpusError, match="no usable track.*1 x vocal is silent"):
        ingest(tmp_path, {"adapter": "folder", "root": str(root)})


def test_standard_files_are_read_in_place_and_made_audio_is_flac(tmp_path, dataset):
    """No second copy of a dataset (issue 19): a stem already at the configured rate is
    the manifest's path as it lies; what ingestion makes (a resampled stem, a mixture of
    vocal + backing) is written once, as 24-bit FLAC; every file's SHA-256 is recorded."""
    out = ingest(tmp_path, {"adapter": "folder", "root": str(dataset)}, sample_rate=SR)
    row = {r["track_id"]: r for r in read_manifest(out["tracks"])}["folder_mono-stereo"]
    assert row["vocal"] == str(dataset / "mono_stereo" / "vocals.wav")
    assert row["backing"] == str(dataset / "mono_stereo" / "accompaniment.wav")
    assert row["mixture"] == str(dataset / "mono_stereo" / "mixture.wav")
    made = {r["track_id"]: r for r in read_manifest(out["tracks"])}["folder_good-one"]
    assert made["vocal"] == str(dataset / "good_one" / "vocals.wav")
    assert made["mixture"] == str(tmp_path / "corpus/audio/folder_good-one/mixture.flac")
    info = sf.info(made["mixture"])
    assert (info.format, info.subtype) == ("FLAC", "PCM_24")
    v, _ = sf.read(made["vocal"], dtype="float32", always_2d=True)
    b, _ = sf.read(made["backing"], dtype="float32", always_2d=True)
    m, _ = sf.read(made["mixture"], dtype="float32", always_2d=True)
    assert np.max(np.abs(m - (v + b))) <= 2.0 ** -23  # one 24-bit step
    for r in (row, made):
        sums = dict(item.split(":") for item in r["checksums"].split())
        assert set(sums) == {"vocal", "backing", "mixture"}
        for role, digest in sums.items():
            assert hashlib.sha256(open(r[role], "rb").read()).hexdigest() == digest
    resampled = ingest(tmp_path / "r", {"adapter": "folder", "root": str(dataset)})
    row = {r["track_id"]: r for r in read_manifest(resampled["tracks"])}["folder_mono-stereo"]
    assert row["vocal"].endswith("corpus/audio/folder_mono-stereo/vocal.flac")
