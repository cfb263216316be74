"""Ingestion in bounded memory (issue 19): the streaming resampler and writer give the samples
and bytes of their whole-signal counterparts, a track streamed in small blocks gives the files
and manifest of the same track held whole, and the checks still see every sample."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf

from vocalmix.audio import (AudioError, StreamResampler, open_audio_writer, resample,
                            write_audio)
from vocalmix.config import validate_config
from vocalmix.corpus import adapters, ingest as corpus_ingest
from vocalmix.corpus.adapters import discover, load_track, open_track
from vocalmix.corpus.manifest import read_manifest, read_rejected
from vocalmix.stages.ingest import ingest as ingest_stage


def db(x: float) -> float:
    return 20 * np.log10(max(x, 1e-30))


# ------------------------------------------------------------------- streaming resampler
@pytest.mark.parametrize("orig,target", [(16000, 44100), (48000, 44100), (96000, 44100),
                                         (44100, 22050), (8000, 44100), (44100, 44100)])
@pytest.mark.parametrize("block", [7, 997, 40000])
def test_stream_resampler_equals_whole_signal_resampling(rng, orig, target, block):
    x = (0.3 * rng.standard_normal((2, 30011))).astype(np.float32)
    whole = resample(x, orig_sample_rate=orig, target_sample_rate=target)
    rs = StreamResampler(orig, target, 2, window_frames=4096)
    parts = [rs.push(x[:, i:i + block]) for i in range(0, x.shape[1], block)]
    parts.append(rs.flush())
    y = np.concatenate(parts, axis=1)
    assert y.shape == whole.shape and rs.output_frames == whole.shape[1]
    # the same filter over the same input samples: within float32 rounding (-140 dBFS)
    assert db(float(np.max(np.abs(y - whole)))) < -140


def test_stream_resampler_short_signal_and_empty_blocks(rng):
    x = (0.5 * rng.standard_normal((1, 7))).astype(np.float32)
    rs = StreamResampler(16000, 44100, 1)
    assert rs.push(np.zeros((1, 0), np.float32)).shape == (1, 0)
    assert rs.push(x).shape == (1, 0)  # too little to be sure of any output sample
    y = rs.flush()
    whole = resample(x, orig_sample_rate=16000, target_sample_rate=44100)
    assert y.shape == whole.shape == (1, 20)
    assert db(float(np.max(np.abs(y - whole)))) < -140
    with pytest.raises(ValueError, match="after flush"):
        rs.push(x)
    with pytest.raises(ValueError, match="shape"):
        StreamResampler(16000, 44100, 2).push(x)


def test_stream_resampler_holds_a_window_not_the_signal(rng):
    rs = StreamResampler(16000, 44100, 2, window_frames=8192)
    block = (0.1 * rng.standard_normal((2, 1000))).astype(np.float32)
    held = []
    for _ in range(200):  # 200,000 input frames
        rs.push(block)
        held.append(rs._buffered)
    assert max(held) <= 8192 + 1000 + 2 * rs.margin


# ------------------------------------------------------------------------ streaming writer
@pytest.mark.parametrize("name,subtype,scale", [("x.flac", "PCM_24", 0.5),
                                                 ("x.wav", "FLOAT", 1.7),
                                                 ("x.wav", "PCM_16", 0.5)])
def test_writer_gives_the_bytes_of_write_audio(tmp_path, rng, name, subtype, scale):
    x = np.clip(scale * rng.standard_normal((2, 50001)), -3, 3).astype(np.float32)
    write_audio(tmp_path / "whole" / name, x, 44100, subtype=subtype)
    with open_audio_writer(tmp_path / "blocks" / name, 44100, 2, subtype=subtype) as w:
        for i in range(0, x.shape[1], 4093):
            w.write(x[:, i:i + 4093])
    assert w.frames == x.shape[1] and w.peak == pytest.approx(float(np.max(np.abs(x))))
    assert ((tmp_path / "blocks" / name).read_bytes()
            == (tmp_path / "whole" / name).read_bytes())


def test_writer_leaves_nothing_when_discarded_or_failing(tmp_path):
    with open_audio_writer(tmp_path / "a.flac", 8000, 1, subtype="PCM_24") as w:
        w.write(np.zeros((1, 100), np.float32))
        w.discard()
    with pytest.raises(AudioError, match="NaN"):
        with open_audio_writer(tmp_path / "b.flac", 8000, 1, subtype="PCM_24") as w:
            w.write(np.full((1, 10), np.nan, np.float32))
    with pytest.raises(AudioError, match="exceeds full scale"):
        with open_audio_writer(tmp_path / "c.flac", 8000, 1, subtype="PCM_24",
                               clip="error") as w:
            w.write(np.full((1, 10), 1.5, np.float32))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- streamed ingestion
def write(path, x, sr, subtype="PCM_16"):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.T, sr, subtype=subtype)


@pytest.fixture()
def tracks(tmp_path, rng):
    """Folder tracks that exercise every made role: a backing beyond full scale (float
    WAV), stems of different lengths (trimmed), mono + stereo, and a MedleyDB track of nine
    mono and stereo stems summed."""
    root = tmp_path / "folder"
    for name, sr, extra, loud in (("loud", 44100, 0, 0.9), ("trim", 44100, 900, 0.2),
                                  ("rate", 32000, 0, 0.2)):
        n = int(4.2 * sr)
        t = np.arange(n) / sr
        write(root / name / "vocals.wav", (0.6 * np.sin(2 * np.pi * 440 * t))[None], sr)
        b = np.clip(loud * rng.standard_normal((2, n + extra)), -1, 1)
        write(root / name / "accompaniment.wav", b, sr, "PCM_24")
    med = tmp_path / "MedleyDB" / "Audio" / "A_B"
    stems = []
    for i in range(9):
        write(med / "A_B_STEMS" / f"A_B_STEM_0{i + 1}.wav",
              0.1 * rng.standard_normal((1 + i % 2, int(3.5 * 44100))), 44100)
        stems.append(f"  S0{i + 1}: {{filename: A_B_STEM_0{i + 1}.wav, "
                     f"instrument: {'male singer' if i == 0 else 'synthesizer'}}}\n")
    (med / "A_B_METADATA.yaml").write_text("stems:\n" + "".join(stems))
    return [{"adapter": "folder", "root": str(root)},
            {"adapter": "medleydb", "root": str(tmp_path / "MedleyDB")}]


def run(tmp_path, datasets, sample_rate=44100, threads=1):
    cfg = validate_config({"datasets": datasets, "seed": 3, "sample_rate": sample_rate,
                           "ingest": {"test_fraction": 0.0, "valid_fraction": 0.0}})
    out = {"tracks": str(tmp_path / "corpus" / "tracks.tsv"),
           "rejected": str(tmp_path / "corpus" / "rejected.tsv"),
           "audio": str(tmp_path / "corpus" / "audio")}
    ingest_stage({}, out, {"config": cfg}, threads=threads)
    return out


def digests(out):
    """(manifest row without paths, sha256 of each file) per track."""
    rows = {}
    for r in read_manifest(out["tracks"]):
        files = {role: hashlib.sha256(open(r[role], "rb").read()).hexdigest()
                 for role in ("vocal", "backing", "mixture", "raw_vocal") if r.get(role)}
        names = {role: r[role].rsplit("/", 1)[-1] for role in files}
        rows[r["track_id"]] = (r["checksums"], r["duration_s"], r["notes"], names, files)
    return rows


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_streamed_track_gives_the_files_of_the_track_held_whole(tmp_path, tracks,
                                                               monkeypatch, sample_rate):
    held = digests(run(tmp_path / "held", tracks, sample_rate))
    # blocks of 1000 frames, and nothing held: every made role streams to its file (the
    # loud backing a second time, as float WAV)
    monkeypatch.setattr(adapters, "BLOCK_FRAMES", 1000)
    monkeypatch.setattr(corpus_ingest, "HOLD_FRAMES", 0)
    streamed = digests(run(tmp_path / "streamed", tracks, sample_rate, threads=2))
    assert streamed == held
    loud = held["folder_loud"]
    assert loud[3]["backing" if sample_rate != 44100 else "mixture"].endswith(".wav")
    assert set(held) == {"folder_loud", "folder_trim", "folder_rate", "medleydb_a-b"}


def test_made_audio_is_the_whole_signal_resampled_and_summed(tmp_path, tracks):
    """The files equal write_audio of the whole-signal computation (resample of the summed,
    trimmed stems): the bytes of ingestion before streaming."""
    out = run(tmp_path, tracks, 48000)
    row = {r["track_id"]: r for r in read_manifest(out["tracks"])}["folder_trim"]
    v, sr = sf.read(row["origin"] + "/vocals.wav", dtype="float32", always_2d=True)
    b, _ = sf.read(row["origin"] + "/accompaniment.wav", dtype="float32", always_2d=True)
    n = v.shape[0]
    vocal = resample(v.T, orig_sample_rate=sr, target_sample_rate=48000)
    backing = resample(b[:n].T, orig_sample_rate=sr, target_sample_rate=48000)
    mixture = np.repeat(vocal, 2, axis=0) + backing
    for role, x in (("vocal", vocal), ("backing", backing), ("mixture", mixture)):
        ext = "flac" if np.max(np.abs(x)) <= 1.0 else "wav"
        ref = tmp_path / "ref" / f"{role}.{ext}"
        write_audio(ref, x, 48000, subtype="PCM_24" if ext == "flac" else "FLOAT")
        assert row[role].endswith(f"{role}.{ext}")
        assert open(row[role], "rb").read() == ref.read_bytes(), role
    assert "lengths differed by 20 ms" in row["notes"]
    med = {r["track_id"]: r for r in read_manifest(out["tracks"])}["medleydb_a-b"]
    stems = sorted((tmp_path / "MedleyDB/Audio/A_B/A_B_STEMS").glob("*.wav"))[1:]
    parts = [sf.read(p, dtype="float32", always_2d=True)[0].T for p in stems]
    summed = np.sum([np.repeat(p, 2, axis=0) if p.shape[0] == 1 else p for p in parts],
                    axis=0, dtype=np.float32)
    backing = resample(summed, orig_sample_rate=44100, target_sample_rate=48000)
    ext = "flac" if np.max(np.abs(backing)) <= 1.0 else "wav"
    ref = tmp_path / "ref" / f"med.{ext}"
    write_audio(ref, backing, 48000, subtype="PCM_24" if ext == "flac" else "FLOAT")
    assert med["backing"].endswith(f"backing.{ext}")
    assert open(med["backing"], "rb").read() == ref.read_bytes()


def test_a_nan_in_the_trimmed_tail_still_rejects(tmp_path):
    root = tmp_path / "takes"
    sr = 16000
    t = np.arange(4 * sr) / sr
    write(root / "x" / "vocals.wav", (0.1 * np.sin(2 * np.pi * 220 * t))[None], sr)
    b = np.tile(0.1 * np.sin(2 * np.pi * 110 * np.arange(4 * sr + 800) / sr), (2, 1))
    b[0, -5] = np.nan  # in the 50 ms that trimming drops
    write(root / "x" / "accompaniment.wav", b, sr, "FLOAT")
    good = tmp_path / "good"
    write(good / "y" / "vocals.wav", (0.1 * np.sin(2 * np.pi * 220 * t))[None], sr)
    write(good / "y" / "accompaniment.wav", np.tile(0.1 * np.sin(2 * np.pi * 110 * t), (2, 1)),
          sr)
    out = run(tmp_path, [{"adapter": "folder", "root": str(root)},
                         {"adapter": "folder", "root": str(good), "name": "good"}], sr)
    (rej,) = read_rejected(out["rejected"])
    assert rej["file"].endswith("x/accompaniment.wav") and "NaN" in rej["reason"]
    assert not (tmp_path / "corpus" / "audio" / "folder_x").exists()


def test_blocks_are_bounded_and_load_track_is_their_concatenation(tmp_path, tracks):
    cands, _ = discover(validate_config({"datasets": tracks, "seed": 1}))
    c = next(c for c in cands if c.track_id == "medleydb_a-b")
    whole, notes = load_track(c, sample_rate=44100, min_duration_s=1.0, silence_dbfs=-80.0,
                              length_tolerance_s=0.1)
    with open_track(c, min_duration_s=1.0, length_tolerance_s=0.1) as src:
        blocks = list(src.blocks(5000))
        assert src.notes == notes == ["backing: mono and stereo stems summed as stereo"]
        assert src.peaks["backing"] == float(np.max(np.abs(whole["backing"])))
    assert max(b["backing"].shape[1] for b in blocks) == 5000
    for role in ("vocal", "backing"):
        assert np.array_equal(np.concatenate([b[role] for b in blocks], axis=1), whole[role])
