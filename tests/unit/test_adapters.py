"""Dataset adapters on tiny fixtures with each dataset's real layout and naming, and on the
real previews in ../shared/data/real (skipped only when that folder is absent)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from vocalmix.config import validate_config
from vocalmix.corpus.tracks import CorpusError, assign_splits
from vocalmix.corpus.adapters import discover, load_track

SR = 8000
LOAD = dict(sample_rate=16000, min_duration_s=1.0, silence_dbfs=-80.0, length_tolerance_s=0.1)


def write(path, seconds=2.0, channels=1, sr=SR, freq=220.0, level=0.1):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = level * np.sin(2 * np.pi * freq * t)
    sf.write(path, np.tile(x[:, None], (1, channels)), sr, subtype="PCM_16")
    return path


def config(*datasets, **extra):
    cfg = {"datasets": list(datasets), "seed": 1, **extra}
    return validate_config(cfg)


def test_musdb18hq_layout(tmp_path):
    root = tmp_path / "musdb"
    for subset, name in (("train", "A Band - Song One"), ("test", "Other - Two")):
        for stem, f in (("mixture", 100), ("vocals", 440), ("drums", 60), ("bass", 80),
                        ("other", 300)):
            write(root / subset / name / f"{stem}.wav", channels=2, freq=f)
    tracklist = tmp_path / "genres.csv"
    tracklist.write_text("Track Name,Genre\nA Band - Song One,Heavy Metal\n")
    cands, rejs = discover(config({"adapter": "musdb18hq", "root": str(root),
                                   "tracklist": str(tracklist)}))
    assert rejs == []
    by_id = {c.track_id: c for c in cands}
    a = by_id["musdb18hq_a-band-song-one"]
    assert a.split in ("train", "valid") and a.genre == "heavy-metal"
    assert by_id["musdb18hq_other-two"].split == "test"
    assert len(a.files["backing"]) == 3 and a.source == "stems"
    audio, notes = load_track(a, **LOAD)
    assert set(audio) == {"vocal", "backing", "mixture"}
    assert audio["backing"].shape == (2, 32000)  # 2 s resampled to 16 kHz


def test_musdb_missing_stem_is_a_discovery_rejection(tmp_path):
    root = tmp_path / "musdb"
    for stem in ("mixture", "vocals", "drums", "bass"):
        write(root / "test" / "X" / f"{stem}.wav")
    write(root / "test" / "Y" / "vocals.wav")
    for stem in ("mixture", "drums", "bass", "other"):
        write(root / "test" / "Y" / f"{stem}.wav")
    cands, rejs = discover(config({"adapter": "musdb18hq", "root": str(root)}))
    assert [c.track_id for c in cands] == ["musdb18hq_y"]
    assert rejs[0].track_id == "musdb18hq_x" and "other.wav" in rejs[0].reason


def test_medleydb_layout_with_raw_vocal(tmp_path):
    root = tmp_path / "MedleyDB"
    t = "Artist_Song"
    song = root / "Audio" / t
    for i, f in enumerate((440, 110, 220), start=1):
        write(song / f"{t}_STEMS" / f"{t}_STEM_0{i}.wav", channels=2, freq=f)
    write(song / f"{t}_RAW" / f"{t}_RAW_01_01.wav", freq=440)
    write(song / f"{t}_MIX.wav", channels=2)
    (song / f"{t}_METADATA.yaml").write_text(
        f"artist: Artist\ntitle: Song\ngenre: Singer/Songwriter\nmix_filename: {t}_MIX.wav\n"
        f"stem_dir: {t}_STEMS\nraw_dir: {t}_RAW\nstems:\n"
        f"  S01:\n    component: melody\n    filename: {t}_STEM_01.wav\n"
        f"    instrument: female singer\n    raw:\n      R01:\n"
        f"        filename: {t}_RAW_01_01.wav\n        instrument: female singer\n"
        f"  S02: {{component: bass, filename: {t}_STEM_02.wav, instrument: electric bass}}\n"
        f"  S03: {{component: '', filename: {t}_STEM_03.wav, instrument: piano}}\n")
    cands, rejs = discover(config({"adapter": "medleydb", "root": str(root)}))
    assert rejs == [] and len(cands) == 1
    c = cands[0]
    assert c.genre == "singer-songwriter" and c.source == "stems"
    assert [p.split("/")[-1] for p in c.files["vocal"]] == [f"{t}_STEM_01.wav"]
    assert len(c.files["backing"]) == 2 and c.files["raw_vocal"]
    audio, _ = load_track(c, **LOAD)
    assert set(audio) == {"vocal", "backing", "mixture", "raw_vocal"}


def test_medleydb_instrumental_is_rejected(tmp_path):
    root = tmp_path / "MedleyDB"
    t = "Band_Instrumental"
    song = root / "Audio" / t
    write(song / f"{t}_STEMS" / f"{t}_STEM_01.wav")
    (song / f"{t}_METADATA.yaml").write_text(
        f"stems:\n  S01: {{filename: {t}_STEM_01.wav, instrument: piano}}\n")
    with pytest.raises(CorpusError, match="corpus is empty.*instrumental"):
        discover(config({"adapter": "medleydb", "root": str(root)}))


def test_ccmixter_layout(tmp_path):
    root = tmp_path / "ccmixter"
    for song in ("Song A", "Song B", "Song C"):
        write(root / song / "mix.wav", channels=2)
        write(root / song / "source-01.wav", channels=2, freq=110)
        write(root / song / "source-02.wav", channels=2, freq=440)
    cands, _ = discover(config({"adapter": "ccmixter", "root": str(root)},
                               ingest={"test_fraction": 0.34, "valid_fraction": 0.0}))
    assert sorted(c.split for c in cands) == ["test", "train", "train"]
    c = cands[0]
    assert c.files["vocal"][0].endswith("source-02.wav")
    assert c.files["backing"][0].endswith("source-01.wav")


@pytest.mark.parametrize("adapter,name", [("ikala", "10161_chorus"), ("mir1k", "abjones_1_01")])
def test_stereo_left_accompaniment_right_vocal(tmp_path, adapter, name):
    root = tmp_path / adapter
    path = root / "Wavfile" / f"{name}.wav"
    path.parent.mkdir(parents=True)
    t = np.arange(2 * SR) / SR
    left, right = 0.05 * np.sin(2 * np.pi * 110 * t), 0.2 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, np.stack([left, right], axis=1), SR)
    cands, _ = discover(config({"adapter": adapter, "root": str(root)}))
    c = cands[0]
    assert c.source == "raw" and c.split == "test" and c.layout == "stereo_lr"
    audio, _ = load_track(c, **{**LOAD, "sample_rate": SR})
    assert np.max(np.abs(audio["raw_vocal"])) == pytest.approx(0.2, abs=1e-3)
    assert np.max(np.abs(audio["backing"])) == pytest.approx(0.05, abs=1e-3)
    assert "vocal" not in audio


def test_stereo_layout_rejects_mono(tmp_path):
    root = tmp_path / "mir1k"
    write(root / "Wavfile" / "x_1_01.wav", channels=1)
    (c,), _ = discover(config({"adapter": "mir1k", "root": str(root)}))
    with pytest.raises(Exception, match="expected stereo"):
        load_track(c, **LOAD)


def test_damp_vsep_metadata(tmp_path):
    root = tmp_path / "damp"
    write(root / "8/IT/en/111_222/vocal.ogg".replace(".ogg", ".flac"))
    write(root / "8/IT/en/111_222/background.flac", channels=2)
    (root / "vsep_metadata.csv").write_text(
        "perf_key,vocal_path,background_path\n"
        "111_222,8/IT/en/111_222/vocal.flac,8/IT/en/111_222/background.flac\n"
        "333_444,8/IT/en/333_444/vocal.flac,8/IT/en/333_444/background.flac\n")
    cands, rejs = discover(config({"adapter": "damp_vsep", "root": str(root)}))
    assert [c.track_id for c in cands] == ["dampvsep_111-222"]
    assert cands[0].source == "raw" and "raw_vocal" in cands[0].files
    assert rejs[0].track_id == "dampvsep_333-444" and "missing" in rejs[0].reason


def test_damp_vsep_without_metadata_is_a_clear_error(tmp_path):
    (tmp_path / "damp").mkdir()
    with pytest.raises(CorpusError, match="metadata CSV"):
        discover(config({"adapter": "damp_vsep", "root": str(tmp_path / "damp")}))


def test_folder_layout_raw_source(tmp_path):
    root = tmp_path / "takes"
    write(root / "take1" / "vocals.wav")
    write(root / "take1" / "accompaniment.wav", channels=2)
    cands, _ = discover(config({"adapter": "folder", "root": str(root), "source": "raw",
                                "genre": "Pop"}))
    c = cands[0]
    assert c.source == "raw" and "raw_vocal" in c.files and c.genre == "pop"


def test_wrong_root_stops_with_one_clear_message(tmp_path):
    with pytest.raises(CorpusError, match="root '.*nowhere' does not exist"):
        discover(config({"adapter": "musdb18hq", "root": str(tmp_path / "nowhere")}))


def test_empty_dataset_folder_is_reported_and_others_go_on(tmp_path):
    (tmp_path / "empty").mkdir()
    cands, rejs = discover(config({"adapter": "folder", "root": str(tmp_path / "empty")},
                                  {"adapter": "demo"}, demo={"songs": 2}))
    assert [c.track_id for c in cands] == ["demo_000", "demo_001"]
    assert rejs[0].dataset == "folder" and "no tracks found" in rejs[0].reason


def test_empty_corpus_stops(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="corpus is empty"):
        discover(config({"adapter": "folder", "root": str(tmp_path / "empty")}))


def test_splits_are_by_track_stratified_and_seeded():
    ids = [f"t{i}" for i in range(20)]
    genres = ["a", "b", "c", "d"] * 5
    s1 = assign_splits(ids, genres, seed=3, test_fraction=0.2, valid_fraction=0.1)
    s2 = assign_splits(ids, genres, seed=3, test_fraction=0.2, valid_fraction=0.1)
    assert s1 == s2
    test_genres = sorted(g for t, g in zip(ids, genres) if s1[t] == "test")
    assert test_genres == ["a", "b", "c", "d"]
    assert sum(v == "valid" for v in s1.values()) == 2
    assert s1 != assign_splits(ids, genres, seed=4, test_fraction=0.2, valid_fraction=0.1)


def test_demo_split_counts():
    # 16 songs, 25% test and 12.5% validation: 4 / 2 / 10, each genre in the test split.
    cands, _ = discover(config({"adapter": "demo"}, demo={"songs": 16, "test_fraction": 0.25,
                                                          "valid_fraction": 0.125}))
    splits = [c.split for c in cands]
    assert (splits.count("train"), splits.count("valid"), splits.count("test")) == (10, 2, 4)
    test_genres = sorted(c.genre for c in cands if c.split == "test")
    assert test_genres == ["ballad", "hiphop", "pop", "rock"]


# ------------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_real_musdb_previews(real_data):
    root = real_data / "musdb18hq_preview"
    cands, rejs = discover(config({"adapter": "musdb18hq", "root": str(root)}))
    assert rejs == [] and len(cands) == 3
    genres = {c.track_id: c.genre for c in cands}
    assert genres["musdb18hq_music-delta-80s-rock"] == "rock"
    assert genres["musdb18hq_mu-too-bright"] == "pop-rock"
    for c in cands:
        audio, notes = load_track(c, **{**LOAD, "sample_rate": 44100})
        assert audio["vocal"].shape[0] == 2 and audio["backing"].shape[1] > 5 * 44100
        # backing = drums + bass + other: mixture ~ vocal + backing (Falcon 69 is limited)
        resid = audio["mixture"] - audio["vocal"] - audio["backing"]
        ratio_db = 10 * np.log10(np.sum(resid**2) / np.sum(audio["mixture"] ** 2))
        assert ratio_db < -14


@pytest.mark.realdata
def test_real_mir1k(real_data):
    root = real_data / "mir1k"
    cands, rejs = discover(config({"adapter": "mir1k", "root": str(root)}))
    assert len(cands) == 171 and rejs == []
    audio, notes = load_track(cands[0], **{**LOAD, "sample_rate": 44100})
    assert "resampled 16000 -> 44100 Hz" in notes
    # the right channel is the voice: its f0 follows the reference pitch labels (20 ms hop,
    # semitones), the left channel's does not
    from vocalmix.measure.pitch import midi_to_hz, raw_pitch_accuracy, track_pitch

    labels = np.loadtxt(root / "PitchLabel" / "Ani_1_01.pv")
    ref = np.where(labels > 0, midi_to_hz(labels), 0.0)
    times = 0.02 + 0.02 * np.arange(labels.size)
    rpa = {role: raw_pitch_accuracy(ref, track_pitch(audio[role], 44100).f0_at(times))
           for role in ("raw_vocal", "backing")}
    assert rpa["raw_vocal"] > 0.9 and rpa["backing"] < 0.5, rpa
