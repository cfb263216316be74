"""Rendering of the listening-test conditions and the objective metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vocalmix.evaluation.objective import (balance_lu, centroid_error_hz, compare, mel_distance_db,
                                           mrstft_distance, summarise)
from vocalmix.measure.loudness import integrated_loudness, true_peak_dbtp
from vocalmix.evaluation.render import (RenderSettings, choose_excerpt, choose_excerpt_file,
                                        conditions_for, cut_excerpt, normalise_for_listening, render_condition,
                                        system_input)
from vocalmix.audio import write_audio

SR = 44100


def _sung(seconds: float, seed: int = 0, f0: float = 220.0, gaps: bool = True) -> np.ndarray:
    """A stereo vocal-like signal: harmonic notes with vibrato and phrase gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = f0 * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = np.ones_like(t)
    if gaps:
        env *= (np.sin(2 * np.pi * 0.25 * t) > -0.3)
    x = 0.2 * x * env + 1e-4 * rng.standard_normal(t.size)
    return np.stack([x, x]).astype(np.float32)


def _backing(seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    noise = rng.standard_normal((2, n)).astype(np.float32)
    from scipy.signal import butter, sosfilt

    sos = butter(2, 3000, fs=SR, output="sos")
    return (0.1 * sosfilt(sos, noise, axis=1)).astype(np.float32)


# ------------------------------------------------------------------------------ metrics
def test_identical_signals_give_zero_on_every_metric():
    v, b = _sung(8), _backing(8)
    mix = v + b
    item = {"mix": mix, "vocal": v, "backing": b, "t60_s": 0.8}
    m = compare(item, item, SR)
    for key in ("balance_error_lu", "lra_error_lu", "mel_distance_db", "centroid_error_hz",
                "mrstft_distance", "t60_error_pct"):
        assert m[key] == pytest.approx(0.0, abs=1e-9), key


def test_a_vocal_3_db_louder_gives_a_3_lu_balance_error():
    v, b = _sung(8), _backing(8)
    ref = {"mix": v + b, "vocal": v, "backing": b}
    v3 = v * np.float32(10 ** (3 / 20))
    cond = {"mix": v3 + b, "vocal": v3, "backing": b}
    m = compare(cond, ref, SR)
    assert m["balance_error_lu"] == pytest.approx(3.0, abs=0.01)
    assert m["lra_error_lu"] == pytest.approx(0.0, abs=0.05)  # a gain leaves the LRA alone
    assert balance_lu(v3, b, SR) - balance_lu(v, b, SR) == pytest.approx(3.0, abs=0.01)
    assert mel_distance_db(cond["mix"], ref["mix"], SR) > 0.3


def test_spectral_metrics_respond_to_a_brighter_mix():
    v, b = _sung(6), _backing(6)
    rng = np.random.default_rng(5)
    hiss = (0.05 * rng.standard_normal(b.shape)).astype(np.float32)
    from scipy.signal import butter, sosfilt

    hiss = sosfilt(butter(4, 6000, "high", fs=SR, output="sos"), hiss, axis=1).astype(np.float32)
    ref, bright = v + b, v + b + hiss
    # the centroid rises by hundreds of Hz, and every distance is positive
    assert centroid_error_hz(bright, ref, SR) > 300
    assert mrstft_distance(bright, ref, SR) > 0.05
    assert mel_distance_db(bright, ref, SR) > 1.0
    # and they grow with the change
    assert mrstft_distance(ref + 2 * hiss, ref, SR) > mrstft_distance(bright, ref, SR)


def test_t60_error_is_relative_in_percent():
    v, b = _sung(4), _backing(4)
    ref = {"mix": v + b, "t60_s": 1.0}
    cond = {"mix": v + b, "t60_s": 1.2}
    assert compare(cond, ref, SR)["t60_error_pct"] == pytest.approx(20.0, abs=1e-9)
    assert math.isnan(compare({"mix": v + b}, ref, SR)["balance_error_lu"])  # no stems


def test_summary_has_mean_median_ci_and_n():
    rows = [{"track": f"t{i}", "condition": "rule_based", "balance_error_lu": x,
             "lra_error_lu": math.nan, "mel_distance_db": 1.0, "centroid_error_hz": 10.0,
             "mrstft_distance": 0.5, "t60_error_pct": 5.0}
            for i, x in enumerate([1.0, 2.0, 3.0, 6.0])]
    s = {r["metric"]: r for r in summarise(rows)}
    bal = s["balance_error_lu"]
    assert bal["mean"] == pytest.approx(3.0) and bal["median"] == pytest.approx(2.5)
    assert bal["n"] == 4
    # t(0.975, 3) = 3.182446; sd = 2.160247
    half = 3.182446 * 2.160247 / 2
    assert bal["ci95_low"] == pytest.approx(3 - half, abs=1e-4)
    assert bal["ci95_high"] == pytest.approx(3 + half, abs=1e-4)
    assert s["lra_error_lu"]["n"] == 0 and s["lra_error_lu"]["mean"] is None


# ------------------------------------------------------------------------------ excerpts
def test_excerpt_is_the_whole_short_song_and_where_the_vocal_sings_in_a_long_one():
    short = _sung(12)
    ex = choose_excerpt(short, SR, RenderSettings(excerpt_s=25, fade_s=0.1))
    assert ex["start_s"] == 0 and ex["duration_s"] == pytest.approx(12.0)
    # 60 s: silence except a sung passage from 30 to 52 s
    long = np.zeros((2, 60 * SR), dtype=np.float32)
    long[:, 30 * SR: 52 * SR] = _sung(22, gaps=False)
    ex = choose_excerpt(long, SR, RenderSettings(excerpt_s=20))
    assert 30.0 <= ex["start_s"] <= 32.0
    assert ex["duration_s"] == 20
    fixed = choose_excerpt(long, SR, RenderSettings(excerpt_s=20, start_s=50.0))
    assert fixed["start_s"] == pytest.approx(40.0)  # clamped so that 20 s fit


def test_excerpt_from_a_file_is_streamed_and_equals_the_one_from_the_array(tmp_path):
    # the excerpt stage reads the vocal through the streaming meter (memory flat in the
    # song's length); the choice is the one the whole array gives, on a 24-bit FLAC as stored
    long = np.zeros((1, 90 * SR), dtype=np.float32)
    long[:, 47 * SR: 70 * SR] = _sung(23, gaps=False)[:1]
    path = tmp_path / "vocal.flac"
    write_audio(path, long, SR, subtype="PCM_24")
    settings = RenderSettings(excerpt_s=20)
    from_file, sr = choose_excerpt_file(path, settings)
    assert sr == SR
    assert from_file == choose_excerpt(long, SR, settings)
    assert 47.0 <= from_file["start_s"] <= 50.0
    whole, _ = choose_excerpt_file(path, RenderSettings(excerpt_s=120))
    assert whole["method"] == "whole" and whole["duration_s"] == pytest.approx(90.0)


def test_cut_excerpt_has_the_length_and_fades():
    x = np.ones((2, 10 * SR), dtype=np.float32)
    y = cut_excerpt(x, SR, {"start_s": 2.0, "duration_s": 5.0, "fade_s": 0.1})
    assert y.shape == (2, 5 * SR)
    assert y[0, 0] < 1e-3 and y[0, -1] < 1e-3
    assert np.all(y[:, int(0.1 * SR): -int(0.1 * SR)] == 1.0)


@pytest.mark.parametrize("peaky", [False, True])
def test_normalised_to_the_listening_loudness_under_the_true_peak_ceiling(peaky):
    x = 0.1 * (_sung(8) + _backing(8))
    if peaky:  # full-scale clicks over a quiet programme: normalising would clip them
        x[:, ::SR // 2] = 1.0
    y, info = normalise_for_listening(x, SR, target_lufs=-16.0, ceiling_dbtp=-1.0)
    assert integrated_loudness(y, SR) == pytest.approx(-16.0, abs=0.1)
    assert true_peak_dbtp(y, SR) <= -1.0
    assert info["limited"] is peaky


# ---------------------------------------------------------------------- conditions
def test_conditions_and_inputs_follow_the_dataset():
    stems = {"track_id": "s", "vocal": "v.wav", "backing": "b.wav", "mixture": "m.wav"}
    raw = {"track_id": "r", "raw_vocal": "raw.wav", "backing": "b.wav"}
    assert conditions_for(stems, RenderSettings()) == ["professional", "unprocessed",
                                                        "commercial", "rule_based", "data_driven"]
    nowhere = RenderSettings(professional="/nowhere/{track}.wav")
    assert "professional" not in conditions_for(raw, nowhere)
    assert system_input(stems, RenderSettings(corruption_version=2)) == (
        "corrupted", "results/corrupted/s/v2.flac")
    assert system_input(raw, RenderSettings()) == ("raw", "raw.wav")


def test_preset_stands_in_for_a_missing_commercial_render_and_says_so(tmp_path):

    v, b = _sung(6), _backing(6)
    row = {"track_id": "t", "genre": "pop"}
    mix, vs, bs, info = render_condition("commercial", row=row, backing=b, sample_rate=SR,
                                         vocal_in=v)
    assert info["source"] == "preset" and vs is not None
    np.testing.assert_allclose(mix.shape, b.shape)
    path = tmp_path / "tool.wav"
    write_audio(path, (v + b) * 0.5, SR)
    mix, vs, bs, info = render_condition("commercial", row=row, backing=b, sample_rate=SR,
                                         vocal_in=v, commercial=str(path))
    assert info["source"] == "supplied" and vs is None
    unproc, vs, bs, info = render_condition("unprocessed", row=row, backing=b,
                                            sample_rate=SR, vocal_in=v)
    np.testing.assert_array_equal(unproc, v + b)


# ------------------------------------------------ the render stage, windowed conditions
@pytest.mark.parametrize("condition", ["professional", "unprocessed"])
def test_render_stage_reads_only_the_excerpt_and_writes_the_whole_song_paths_bytes(
        tmp_path, monkeypatch, condition):
    # professional and unprocessed need nothing outside the excerpt: the stage reads only its
    # samples (memory flat in the song's length) and writes exactly what cutting the whole
    # song gives; a vocal longer than the backing is cut at the backing's end either way
    from vocalmix.audio import read_audio
    from vocalmix.evaluation import render as render_module
    from vocalmix.files import write_json
    from vocalmix.stages import render as stage

    rng = np.random.default_rng(3)
    n = 40 * SR
    vocal = _sung(41, seed=1)[:, : 41 * SR]  # one second longer than the backing
    backing = (0.05 * rng.standard_normal((2, n))).astype(np.float32)
    paths = {}
    for name, x in (("vocal", vocal), ("backing", backing),
                    ("mixture", vocal[:, :n] + backing)):
        paths[name] = str(tmp_path / f"{name}.flac")
        write_audio(paths[name], np.clip(x, -1, 1), SR, subtype="PCM_24")
    vin = str(tmp_path / "v0.wav")
    write_audio(vin, vocal[:1] * np.float32(0.5), SR)
    row = {"track_id": "t", "split": "test", **paths}
    for start in (12.25, 25.0):  # inside, and reaching past the backing's end
        excerpt = {"start_s": start, "duration_s": 16.0, "fade_s": 0.05, "method": "fixed"}
        write_json(tmp_path / "excerpt.json", excerpt)
        params = {"row": row, "condition": condition, "input_role": "corrupted",
                  "reference": paths["mixture"], "commercial": None, "genre": None,
                  "genre_source": None, "render": {}, "sample_rate": SR,
                  "listening": {"loudness_lufs": -23.0, "true_peak_dbtp": -1.0}}
        inputs = {"excerpt": str(tmp_path / "excerpt.json"), "vocal_in": vin}
        out = {}
        for label, windowed in (("window", render_module.WINDOWED_CONDITIONS), ("whole", ())):
            monkeypatch.setattr(stage, "WINDOWED_CONDITIONS", windowed)
            out[label] = {k: str(tmp_path / f"{label}.{k}.{ext}") for k, ext in
                          (("audio", "wav"), ("vocal", "flac"), ("backing", "flac"),
                           ("json", "json"))}
            stage.render(inputs, out[label], params)
        for k in ("audio", "vocal", "backing"):
            a, _ = read_audio(out["window"][k])
            b, _ = read_audio(out["whole"][k])
            assert a.shape == (2, 16 * SR)
            assert np.array_equal(a, b), (start, k)
