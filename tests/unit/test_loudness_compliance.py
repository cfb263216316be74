"""EBU Tech 3341 (cases 1-6, 9-14, 15-23) and Tech 3342 (cases 1-4) compliance, synthesised
here at 44.1 and 48 kHz, with the standards' tolerances: +/-0.1 LU for I/M/S, +/-1 LU for
LRA, +0.2/-0.4 dB for true peak. The authentic-programme cases (7, 8 and 3342 5, 6) need the
EBU's recordings and are not synthesisable."""

from __future__ import annotations

import numpy as np
import pytest

from vocalmix.measure import loudness as L

RATES = [44100, 48000]
TOL = 0.1


def tone(segments, sample_rate, channels=2, freq=1000.0):
    """Concatenated 1 kHz stereo tones: ``segments`` = [(dBFS peak or None, seconds), ...]."""
    parts = []
    for level, dur in segments:
        n = int(round(dur * sample_rate))
        t = np.arange(n) / sample_rate
        parts.append(np.zeros(n) if level is None else
                     10 ** (level / 20.0) * np.sin(2 * np.pi * freq * t))
    x = np.concatenate(parts)
    return np.tile(x, (channels, 1))


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("level", [-23.0, -33.0])
def test_cases_1_2_steady_tone(sr, level):
    r = L.analyse(tone([(level, 20.0)], sr), sr)
    assert r.integrated_lufs == pytest.approx(level, abs=TOL)
    assert r.max_momentary_lufs == pytest.approx(level, abs=TOL)
    assert r.max_short_term_lufs == pytest.approx(level, abs=TOL)
    # M and S are constant once their windows are full
    assert np.all(np.abs(r.momentary_lufs - level) < TOL)
    assert np.all(np.abs(r.short_term_lufs - level) < TOL)


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("segments", [
    [(-36.0, 10), (-23.0, 60), (-36.0, 10)],  # case 3
    [(-72.0, 10), (-36.0, 10), (-23.0, 60), (-36.0, 10), (-72.0, 10)],  # case 4
    [(-26.0, 20), (-20.0, 20.1), (-26.0, 20)],  # case 5
], ids=["case3", "case4", "case5"])
def test_cases_3_4_5_gating(sr, segments):
    assert L.analyse(tone(segments, sr), sr).integrated_lufs == pytest.approx(-23.0, abs=TOL)


@pytest.mark.parametrize("sr", RATES)
def test_case_6_five_channel_weights(sr):
    n = 20 * sr
    t = np.arange(n) / sr
    levels = [-28.0, -28.0, -24.0, -30.0, -30.0]  # L R C Ls Rs
    x = np.stack([10 ** (lv / 20) * np.sin(2 * np.pi * 1000 * t) for lv in levels])
    assert L.analyse(x, sr).integrated_lufs == pytest.approx(-23.0, abs=TOL)


@pytest.mark.parametrize("sr", RATES)
def test_case_9_short_term_constant(sr):
    x = tone([(-20.0, 1.34), (-30.0, 1.66)] * 5, sr)
    r = L.analyse(x, sr)
    times = r.short_term_times_s()
    assert times[0] == pytest.approx(3.0)
    assert np.all(np.abs(r.short_term_lufs - (-23.0)) < TOL)


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("i", [0, 1, 7, 13, 19])
def test_case_10_max_short_term_per_segment(sr, i):
    x = tone([(None, i * 0.15), (-23.0, 3.0), (None, 1.0)], sr)
    assert L.analyse(x, sr).max_short_term_lufs == pytest.approx(-23.0, abs=TOL)


@pytest.mark.parametrize("sr", RATES)
def test_case_11_live_successive_max_short_term(sr):
    segments, ends = [], []
    t = 0.0
    for i in range(20):
        segments += [(None, i * 0.15), (-38.0 + i, 3.0), (None, 3.0 - i * 0.15)]
        t += 6.0
        ends.append(t)
    r = L.analyse(tone(segments, sr), sr)
    running = np.maximum.accumulate(r.short_term_lufs)
    times = r.short_term_times_s()
    for i, end in enumerate(ends):
        k = np.searchsorted(times, end - 1e-6) - 1
        assert running[k] == pytest.approx(-38.0 + i, abs=TOL), f"segment {i}"


@pytest.mark.parametrize("sr", RATES)
def test_case_12_momentary_constant(sr):
    x = tone([(-20.0, 0.18), (-30.0, 0.22)] * 25, sr)
    r = L.analyse(x, sr)
    after = r.momentary_times_s() >= 1.0
    assert np.all(np.abs(r.momentary_lufs[after] - (-23.0)) < TOL)


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("i", range(20))
def test_case_13_max_momentary_per_segment(sr, i):
    x = tone([(None, i * 0.02), (-23.0, 0.4), (None, 1.0)], sr)
    assert L.analyse(x, sr).max_momentary_lufs == pytest.approx(-23.0, abs=TOL)


@pytest.mark.parametrize("sr", RATES)
def test_case_14_live_successive_max_momentary(sr):
    segments, ends = [], []
    t = 0.0
    for i in range(20):
        segments += [(None, i * 0.02), (-38.0 + i, 0.4), (None, 0.4 - i * 0.02)]
        t += 0.8
        ends.append(t)
    r = L.analyse(tone(segments, sr), sr)
    running = np.maximum.accumulate(r.momentary_lufs)
    times = r.momentary_times_s()
    for i, end in enumerate(ends):
        k = np.searchsorted(times, end - 1e-6) - 1
        assert running[k] == pytest.approx(-38.0 + i, abs=TOL), f"segment {i}"


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("levels,expected", [
    ([-20.0, -30.0], 10.0), ([-20.0, -15.0], 5.0), ([-40.0, -20.0], 20.0),
    ([-50.0, -35.0, -20.0, -35.0, -50.0], 15.0),
], ids=["3342-case1", "3342-case2", "3342-case3", "3342-case4"])
def test_tech3342_loudness_range(sr, levels, expected):
    x = tone([(lv, 20.0) for lv in levels], sr)
    assert L.analyse(x, sr).loudness_range_lu == pytest.approx(expected, abs=1.0)
    # "the expected response is unchanged if the test signal is repeated"
    assert L.analyse(np.concatenate([x, x], axis=1), sr).loudness_range_lu == pytest.approx(
        expected, abs=1.0)


def _tp_tone(sr, freq, amp, phase_deg, seconds=1.0):
    n = int(seconds * sr)
    t = np.arange(n) / sr
    x = amp * np.sin(2 * np.pi * freq * t + np.deg2rad(phase_deg))
    fade = int(0.01 * sr)
    ramp = np.linspace(0, 1, fade)
    x[:fade] *= ramp
    x[-fade:] *= ramp[::-1]
    return np.tile(x, (2, 1))


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("div,amp,phase,expected", [
    (4, 0.5, 0.0, -6.0), (4, 0.5, 45.0, -6.0), (6, 0.5, 60.0, -6.0), (8, 0.5, 67.5, -6.0),
    (4, 1.41, 45.0, 3.0),
], ids=["case15", "case16", "case17", "case18", "case19"])
def test_true_peak_cases_15_19(sr, div, amp, phase, expected):
    tp = L.true_peak_dbtp(_tp_tone(sr, sr / div, amp, phase), sr)
    assert expected - 0.4 <= tp <= expected + 0.2


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("offset", [0, 1, 2, 3], ids=["case20", "case21", "case22", "case23"])
def test_true_peak_cases_20_23(sr, offset):
    from scipy import signal

    hi = 4 * sr
    n = hi  # one second at 4*fs
    t = np.arange(n) / hi
    x = 0.5 * np.sin(2 * np.pi * (sr / 6) * t)
    # one period of an fs/4 sine at amplitude 1.0, continuous in phase at both sides
    period = 16  # samples of fs/4 at 4*fs
    start = n // 2
    start -= start % 24  # where the fs/6 carrier crosses zero upwards
    x[start:start + period] = np.sin(2 * np.pi * np.arange(period) / period)
    fade = int(0.01 * hi)
    x[:fade] *= np.linspace(0, 1, fade)
    x[-fade:] *= np.linspace(1, 0, fade)
    lp = signal.firwin(255, 0.24)  # anti-alias before taking every 4th sample
    y = signal.lfilter(lp, 1.0, x)[offset + 127::4]
    tp = L.true_peak_dbtp(np.tile(y, (2, 1)), sr)
    assert -0.4 <= tp <= 0.2
