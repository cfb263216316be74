"""The corruption stage in blocks (issue 19): the versions, the WPE pieces and the note report
are made from signals read a block at a time, equal to the whole-array algorithm, and the
memory the stage holds does not grow with the song."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from vocalmix.audio import read_audio, write_audio
from vocalmix.corpus import demo
from vocalmix.dsp import corruption
from vocalmix.dsp.corruption import (NORMALISED_LUFS, RANGES, corrupt, corrupt_blocks,
                                     dereverberate, dereverberated_pieces, expand, random_eq,
                                     sustained_note_loss_db)
from vocalmix.dsp.effects import apply_eq
from vocalmix.files import read_json, write_json
from vocalmix.measure import loudness

SR = 16000


def _phrases(seconds: float, seed: int = 0) -> np.ndarray:
    """Mono noise in phrases 0.2-1.5 s long at levels -45 to -10 dBFS (the expander acts)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    level = np.empty(n, np.float32)
    pos = 0
    while pos < n:
        m = int(rng.uniform(0.2, 1.5) * SR)
        level[pos:pos + m] = 10 ** (rng.uniform(-45, -10) / 20)
        pos += m
    return (rng.normal(size=n).astype(np.float32) * level)[None, :]


def _whole_array_corrupt(x: np.ndarray, sample_rate: int, rng: np.random.Generator):
    """The corruption of one version before issue 19, on whole arrays: the reference."""
    eq = random_eq(rng)
    y = apply_eq(x, sample_rate, eq)
    depth = float(rng.uniform(*RANGES["expander_depth_db"]))
    a = np.abs(y)
    sel = a > 1e-3 * a.max() if a.max() > 0 else a > 0
    active_db = float(20 * np.log10(np.sqrt(np.mean(y[sel].astype(np.float64) ** 2)) + 1e-12))
    exp = {"threshold_db": active_db - depth,
           "ratio": float(rng.uniform(*RANGES["expander_ratio"])),
           "attack_ms": float(rng.uniform(*RANGES["expander_attack_ms"])),
           "release_ms": float(rng.uniform(*RANGES["expander_release_ms"]))}
    y = expand(y, sample_rate, **exp)
    lufs = loudness.integrated_loudness(y, sample_rate)
    gain_db = NORMALISED_LUFS - lufs if math.isfinite(lufs) else 0.0
    return (y * np.float32(10 ** (gain_db / 20))).astype(np.float32), exp, gain_db


def _blocks_of(x: np.ndarray, n: int):
    return lambda: (x[:, i:i + n] for i in range(0, x.shape[1], n))


def test_loudness_of_blocks_equals_the_whole_signal_meter():
    x = _phrases(12.0, seed=1)
    whole = loudness.analyse(x, SR)
    for n in (7919, 44100, 1 << 17):
        r = loudness.analyse_blocks(_blocks_of(x, n)(), SR, 1)
        assert r.integrated_lufs == whole.integrated_lufs
        assert r.loudness_range_lu == whole.loudness_range_lu
        np.testing.assert_array_equal(r.momentary_lufs, whole.momentary_lufs)


@pytest.mark.parametrize("seed", range(4))
def test_block_corruption_equals_the_whole_array_algorithm(seed):
    """Any block length gives the old whole-array version sample for sample; the recorded
    threshold and gain agree within 1e-9 dB (the active RMS is summed block by block)."""
    x = _phrases(20.0, seed=seed)
    ref, exp, gain_db = _whole_array_corrupt(x, SR, np.random.default_rng(seed))
    for n in (7919, 1 << 15):
        got = []
        p = corrupt_blocks(_blocks_of(x, n), SR, np.random.default_rng(seed), got.append)
        y = np.concatenate(got, axis=1)
        np.testing.assert_array_equal(y, ref)
        assert p["expander"]["threshold_db"] == pytest.approx(exp["threshold_db"], abs=1e-9)
        assert {k: p["expander"][k] for k in ("ratio", "attack_ms", "release_ms")} == \
            {k: exp[k] for k in ("ratio", "attack_ms", "release_ms")}
        assert p["gain_db"] == pytest.approx(gain_db, abs=1e-9)
        # without a sink: the same parameters, nothing else made
        assert corrupt_blocks(_blocks_of(x, n), SR, np.random.default_rng(seed)) == p
    y, p = corrupt(x, SR, np.random.default_rng(seed))
    np.testing.assert_array_equal(y, ref)
    assert loudness.integrated_loudness(y, SR) == pytest.approx(NORMALISED_LUFS, abs=0.01)


def test_dereverberated_pieces_read_the_signal_once_in_blocks_and_equal_dereverberate():
    x = np.concatenate([_phrases(7.3, seed=2), _phrases(7.3, seed=3)]) * 0.5
    kw = {"block_s": 2.0, "overlap_s": 0.5}
    asked = []

    def read(k):
        asked.append(k)
        start = sum(asked) - k
        return x[:, start:start + k]

    pieces = list(dereverberated_pieces(read, x.shape[1], SR, **kw))
    assert sum(asked) == x.shape[1]  # every sample read once
    assert max(asked) <= 2.0 * SR and max(p.shape[1] for p in pieces) <= 2.0 * SR
    assert all(p.dtype == np.float32 and p.shape[0] == 1 for p in pieces)
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), dereverberate(x, SR, **kw))


@pytest.fixture
def small_blocks(monkeypatch):
    """2-s WPE blocks and 0.6-s corruption blocks, so an 8-s song is many of each."""
    monkeypatch.setitem(corruption.WPE_BLOCKS, "block_s", 2.0)
    monkeypatch.setitem(corruption.WPE_BLOCKS, "overlap_s", 0.5)
    monkeypatch.setattr(corruption, "CORRUPT_BLOCK", 9600)


def test_the_stages_stream_the_song_to_the_bytes_of_the_whole_array_pipeline(
        tmp_path, small_blocks):
    """Rule corrupt (WPE, dry-note report, params, v0) and corrupt_extra (v1) made block by
    block from files give what the whole-array functions give the whole song."""
    from vocalmix.stages.corrupt import corrupt as corrupt_stage, corrupt_extra

    song, truth = demo.generate_song("demo_002", "pop", duration_s=8.0, sample_rate=SR, seed=3)
    for role in ("vocal", "dry_vocal"):
        write_audio(tmp_path / f"{role}.wav", song[role], SR)
    write_json(tmp_path / "truth.json", truth)
    out = tmp_path / "out"
    corrupt_stage({"vocal": str(tmp_path / "vocal.wav"),
                   "dry_vocal": str(tmp_path / "dry_vocal.wav"),
                   "truth": str(tmp_path / "truth.json")},
                  {"audio": [str(out / "v0.wav")],
                   "params": [str(out / f"v{k}.json") for k in range(2)],
                   "dereverberated": str(out / "dereverberated.flac")},
                  {"track": "demo_002", "seed": 1,
                   "corruption": {"dereverb": True, "note_check": True},
                   "audio_versions": [0]})
    corrupt_extra({"dereverberated": str(out / "dereverberated.flac")},
                  {"audio": [str(out / "v1.wav")]},
                  {"track": "demo_002", "seed": 1, "versions": [1]})

    vocal, _ = read_audio(tmp_path / "vocal.wav")
    write_audio(tmp_path / "ref_derev.flac", dereverberate(vocal, SR), SR, subtype="PCM_24")
    assert (out / "dereverberated.flac").read_bytes() == \
        (tmp_path / "ref_derev.flac").read_bytes()
    derev, _ = read_audio(tmp_path / "ref_derev.flac")
    report = sustained_note_loss_db(read_audio(tmp_path / "dry_vocal.wav")[0], SR,
                                    truth["notes"])
    from vocalmix import seeding

    for k in range(2):
        seed = seeding.derive_seed(1, "corrupt", "demo_002", k)
        y, p = corrupt(derev, SR, np.random.default_rng(seed))
        write_audio(tmp_path / f"ref_v{k}.wav", y, SR)
        assert (out / f"v{k}.wav").read_bytes() == (tmp_path / f"ref_v{k}.wav").read_bytes()
        recorded = read_json(out / f"v{k}.json")
        assert recorded["wpe_on_dry_notes"] == report
        assert recorded["gain_db"] == pytest.approx(p["gain_db"], abs=1e-9)
        assert recorded["eq"] == p["eq"]


def _traced_peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dereverb", [False, True])
def test_stage_memory_does_not_grow_with_the_song(tmp_path, monkeypatch, dereverb):
    """Peak traced (Python and numpy) memory of rules corrupt and corrupt_extra on a 10-s and
    a 40-s song at 44.1 kHz: it grows by under a tenth of the 30 s of mono float32 samples
    added (holding any whole-song signal would be all of them; the loudness meter keeps 8
    bytes per 10-ms hop). WPE is made cheap (one iteration, 512-point STFT, 1.5-s blocks);
    what it holds is one block's, the same for both songs."""
    from vocalmix.stages.corrupt import corrupt as corrupt_stage, corrupt_extra

    sr = 44100
    monkeypatch.setitem(corruption.WPE_BLOCKS, "block_s", 1.5)
    monkeypatch.setitem(corruption.WPE_BLOCKS, "overlap_s", 0.5)
    monkeypatch.setattr(corruption, "WPE", {"size": 512, "shift": 128, "taps": 5, "delay": 2,
                                            "iterations": 1})
    monkeypatch.setattr(corruption, "CORRUPT_BLOCK", 8192)

    def stages(seconds: float) -> dict:
        d = tmp_path / f"{seconds:g}"
        rng = np.random.default_rng(5)
        level = np.repeat(10 ** (rng.uniform(-45, -10, int(seconds * 2)) / 20), sr // 2)
        vocal = (rng.normal(size=(2, level.size)) * level).astype(np.float32)
        write_audio(d / "vocal.wav", vocal, sr)
        return {"corrupt": lambda: corrupt_stage(
                    {"vocal": str(d / "vocal.wav")},
                    {"audio": [str(d / "v0.wav")],
                     "params": [str(d / f"v{k}.json") for k in range(2)],
                     "dereverberated": str(d / "dereverberated.flac")},
                    {"track": "t", "seed": 1, "corruption": {"dereverb": dereverb},
                     "audio_versions": [0]}),
                "corrupt_extra": lambda: corrupt_extra(
                    {"dereverberated": str(d / "dereverberated.flac")},
                    {"audio": [str(d / "v1.wav")]},
                    {"track": "t", "seed": 1, "versions": [1]})}

    for run in stages(2.0).values():  # imports and caches: not the song's
        run()
    peaks = {}
    for seconds in (10.0, 40.0):
        for rule, run in stages(seconds).items():
            peaks[rule, seconds] = _traced_peak_mb(run)
    added_mb = 30.0 * sr * 4 / 1e6
    for rule in ("corrupt", "corrupt_extra"):
        assert peaks[rule, 40.0] - peaks[rule, 10.0] < 0.1 * added_mb, peaks


def test_a_version_that_would_pass_full_scale_is_turned_down_to_a_1_dbfs_peak():
    """A peaky take (a click over a quiet tone) normalised to -23 LUFS would peak far above
    full scale: the gain stops at a -1 dBFS peak, recorded, and the level is what it says."""
    sr = 44100
    t = np.arange(4 * sr) / sr
    x = (0.01 * np.sin(2 * np.pi * 440 * t))[None, :].astype(np.float32)
    x[0, sr: sr + 40] = 0.9  # a click 39 dB over the tone
    out, p = corrupt(x, sr, np.random.default_rng(5))
    peak_dbfs = 20 * math.log10(float(np.max(np.abs(out))))
    assert p["peak_limited"] and peak_dbfs == pytest.approx(corruption.PEAK_CEILING_DBFS,
                                                            abs=0.01)
    assert p["normalised_lufs"] < NORMALISED_LUFS
    assert loudness.integrated_loudness(out, sr) == pytest.approx(p["normalised_lufs"], abs=0.05)

    quiet, q = corrupt(0.1 * np.sin(2 * np.pi * 440 * t)[None, :].astype(np.float32), sr,
                       np.random.default_rng(5))
    assert not q["peak_limited"] and q["normalised_lufs"] == NORMALISED_LUFS
    assert loudness.integrated_loudness(quiet, sr) == pytest.approx(NORMALISED_LUFS, abs=0.05)


def test_the_note_check_is_made_only_when_asked(tmp_path):
    """``corruption.note_check`` off (the default): no second WPE, no dry vocal read (a
    missing one is no error) and no ``wpe_on_dry_notes`` in the versions' JSON."""
    from vocalmix.config import load_config
    from vocalmix.stages.corrupt import corrupt as corrupt_stage

    assert load_config("config.yaml")["corruption"]["note_check"] is False
    song, truth = demo.generate_song("demo_002", "pop", duration_s=4.0, sample_rate=SR, seed=3)
    write_audio(tmp_path / "vocal.wav", song["vocal"], SR)
    write_json(tmp_path / "truth.json", truth)
    out = tmp_path / "out"
    corrupt_stage({"vocal": str(tmp_path / "vocal.wav"),
                   "dry_vocal": str(tmp_path / "no_such_dry_vocal.wav"),
                   "truth": str(tmp_path / "truth.json")},
                  {"audio": [str(out / "v0.wav")], "params": [str(out / "v0.json")],
                   "dereverberated": str(out / "dereverberated.flac")},
                  {"track": "demo_002", "seed": 1, "corruption": {"dereverb": True}})
    assert "wpe_on_dry_notes" not in read_json(out / "v0.json")
    assert (out / "v0.wav").exists()
