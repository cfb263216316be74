"""Loudness module: filter design, cross-check with pyloudnorm, streaming, edge cases."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy import signal

from vocalmix.measure import loudness as L
from vocalmix.audio import AudioError


def test_k_weighting_reproduces_the_48k_coefficients_exactly():
    sos = L.k_weighting_sos(48000)
    np.testing.assert_allclose(sos[0], [1.53512485958697, -2.69169618940638, 1.19839281085285,
                                        1.0, -1.69065929318241, 0.73248077421585], rtol=1e-12)
    np.testing.assert_allclose(sos[1], [1.0, -2.0, 1.0, 1.0, -1.99004745483398,
                                        0.99007225036621], rtol=1e-12)


@pytest.mark.parametrize("sr", [22050, 32000, 44100, 88200, 96000])
def test_k_weighting_response_matches_48k_design(sr):
    """Same frequency response as the 48 kHz filter (BS.1770: 'same frequency response')."""
    freqs = np.array([20, 50, 100, 500, 1000, 2000, 4000, 8000, 10000])
    _, h48 = signal.sosfreqz(L.k_weighting_sos(48000), worN=freqs, fs=48000)
    _, h = signal.sosfreqz(L.k_weighting_sos(sr), worN=freqs, fs=sr)
    diff_db = 20 * np.log10(np.abs(h)) - 20 * np.log10(np.abs(h48))
    assert np.max(np.abs(diff_db)) < 0.05


def _music_like(sr, seconds, rng):
    """Drums-and-chords-like test signal with level changes (not a steady tone)."""
    n = int(sr * seconds)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for f in (110.0, 220.0, 277.2, 329.6, 440.0):
        x += np.sin(2 * np.pi * f * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t)) / 5
    hits = np.zeros(n)
    hits[:: int(0.5 * sr)] = 1.0
    x += signal.lfilter([1.0], [1.0, -0.999], hits) * rng.standard_normal(n) * 0.3
    env = np.repeat(rng.uniform(0.1, 1.0, int(seconds) + 1), sr)[:n]
    return np.stack([x * env, 0.8 * x * env]) * 0.3


@pytest.mark.parametrize("sr", [44100, 48000])
@pytest.mark.parametrize("kind", ["noise", "pink", "music"])
def test_integrated_cross_check_with_pyloudnorm(sr, kind, rng):
    if kind == "noise":
        x = 0.1 * rng.standard_normal((2, 10 * sr))
    elif kind == "pink":
        x = signal.lfilter([0.049922, -0.095993, 0.050612, -0.004408],
                           [1, -2.494956, 2.017265, -0.522189], rng.standard_normal((2, 10 * sr)))
    else:
        x = _music_like(sr, 12, rng)
    ours = L.integrated_loudness(x, sr)
    theirs = pyloudnorm.Meter(sr).integrated_loudness(x.T)
    # pyloudnorm uses a different K-filter design (reads ~0.04 LU low on a 1 kHz tone)
    assert ours == pytest.approx(theirs, abs=0.1)


def test_loudness_range_cross_check_with_pyloudnorm(rng):
    sr = 44100
    x = _music_like(sr, 40, rng)
    assert L.loudness_range(x, sr) == pytest.approx(
        pyloudnorm.Meter(sr).loudness_range(x.T), abs=0.5)


def test_mono_and_stereo_weights(rng):
    sr = 48000
    x = 0.05 * rng.standard_normal((1, 5 * sr))
    mono = L.integrated_loudness(x, sr)
    stereo = L.integrated_loudness(np.vstack([x, x]), sr)
    assert stereo - mono == pytest.approx(10 * math.log10(2), abs=0.01)


def test_gain_shifts_loudness_exactly(rng):
    sr = 44100
    x = _music_like(sr, 10, rng)
    a = L.analyse(x, sr)
    b = L.analyse(x * 10 ** (-6 / 20), sr)
    assert b.integrated_lufs - a.integrated_lufs == pytest.approx(-6.0, abs=1e-6)
    assert b.loudness_range_lu == pytest.approx(a.loudness_range_lu, abs=1e-6)


def test_streaming_chunks_do_not_change_results(rng):
    sr = 44100
    x = _music_like(sr, 9, rng)
    whole = L.analyse(x, sr, chunk_s=100.0)
    chunked = L.analyse(x, sr, chunk_s=0.37)
    np.testing.assert_allclose(chunked.momentary_lufs, whole.momentary_lufs, atol=1e-9)
    np.testing.assert_allclose(chunked.short_term_lufs, whole.short_term_lufs, atol=1e-9)
    assert chunked.integrated_lufs == pytest.approx(whole.integrated_lufs, abs=1e-9)


def test_digital_silence_is_undefined_not_an_error():
    r = L.analyse(np.zeros((2, 44100 * 4)), 44100)
    assert r.integrated_lufs == -math.inf
    assert math.isnan(r.loudness_range_lu)
    assert r.max_momentary_lufs == -math.inf
    assert r.sample_peak_dbfs == -math.inf


def test_signal_below_absolute_gate_is_minus_inf():
    sr = 44100
    t = np.arange(5 * sr) / sr
    x = np.tile(10 ** (-80 / 20) * np.sin(2 * np.pi * 1000 * t), (2, 1))
    assert L.integrated_loudness(x, sr) == -math.inf


def test_shorter_than_one_block_is_a_clear_error():
    with pytest.raises(AudioError, match="400 ms block"):
        L.analyse(np.zeros((2, 1000)), 44100)


def test_between_block_and_window_lengths():
    sr = 44100
    t = np.arange(int(1.0 * sr)) / sr
    x = np.tile(0.1 * np.sin(2 * np.pi * 1000 * t), (2, 1))
    r = L.analyse(x, sr)
    assert math.isfinite(r.integrated_lufs)
    assert math.isnan(r.max_short_term_lufs)  # no complete 3-s window


@pytest.fixture()
def tone_file(tmp_path):
    sr = 44100
    t = np.arange(10 * sr) / sr
    x = np.tile(10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t), (2, 1))
    path = tmp_path / "tone.flac"
    sf.write(path, x.T, sr, subtype="PCM_24")
    return path


def test_analyse_file_matches_in_memory(tone_file):
    x, sr = sf.read(tone_file, always_2d=True)
    assert L.analyse_file(str(tone_file)).integrated_lufs == pytest.approx(
        L.analyse(x.T, sr).integrated_lufs, abs=1e-6)


def test_cli_json(tone_file, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF1234WAVEjunk")
    out = subprocess.run([sys.executable, "-m", "vocalmix", "loudness", str(tone_file), "--json"],
                         capture_output=True, text=True, check=True)
    rec = json.loads(out.stdout.strip())
    assert set(rec) == {"file", "integrated_lufs", "loudness_range_lu", "max_momentary_lufs",
                        "max_short_term_lufs", "sample_peak_dbfs"}
    assert rec["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert rec["sample_peak_dbfs"] == pytest.approx(-23.0, abs=0.01)
    out = subprocess.run([sys.executable, "-m", "vocalmix", "loudness", str(bad), str(tone_file)],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "bad.wav" in out.stderr
    assert "-23.0" in out.stdout  # the readable file is still reported


def test_cli_does_not_import_heavy_modules(tone_file):
    code = ("import sys; from vocalmix.cli import main; main(['loudness', %r]); "
            "print(sorted(m for m in ('torch', 'pandas', 'matplotlib', 'pedalboard', "
            "'statsmodels') if m in sys.modules))" % str(tone_file))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_block_meter_fed_in_any_blocks_gives_the_figures_of_the_whole_signal():
    """BlockMeter (a signal handed over block by block, as a separator makes its stems):
    the same integrated loudness, range and short-term loudness as analyse() of the whole
    signal, for blocks of uneven lengths, some long enough for the threaded filter."""
    rng = np.random.default_rng(7)
    sr = 44100
    t = np.arange(40 * sr) / sr
    x = np.stack([np.sin(2 * np.pi * 440 * t) * (0.05 + 0.2 * (t % 7 < 3)),
                  0.05 * rng.standard_normal(t.size)]).astype(np.float32)
    whole = L.analyse(x, sr)
    with L.BlockMeter(sr, 2) as meter:
        start = 0
        for size in (1000, 3, 200_003, 44100, 150_000, 7):
            meter.add(x[:, start:start + size])
            start += size
        while start < x.shape[1]:
            meter.add(x[:, start:start + 300_001])
            start += 300_001
        blocked = meter.result()
    assert blocked.integrated_lufs == pytest.approx(whole.integrated_lufs, abs=1e-6)
    assert blocked.loudness_range_lu == pytest.approx(whole.loudness_range_lu, abs=1e-6)
    np.testing.assert_allclose(blocked.short_term_lufs, whole.short_term_lufs, atol=1e-6)
    with L.BlockMeter(sr, 2, name="stem.wav") as meter:
        with pytest.raises(AudioError, match=r"stem.wav.*\(2, samples\)"):
            meter.add(x[:1])
