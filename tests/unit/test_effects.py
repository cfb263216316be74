"""The channel-parallel filtering of :mod:`vocalmix.dsp.effects`: a long stereo signal is
filtered one channel per thread, and gives the samples of one stereo pedalboard call."""

from __future__ import annotations

import numpy as np
import pedalboard as pb
import pytest

from vocalmix.dsp import effects
from vocalmix.dsp.effects import EQBand, apply_eq, apply_highpass, eq_plugins

SR = 44100
BANDS = [EQBand(type="low_shelf", frequency_hz=120.0, gain_db=-4.0, q=0.707),
         EQBand(type="peak", frequency_hz=1200.0, gain_db=3.0, q=1.4),
         EQBand(type="high_shelf", frequency_hz=8000.0, gain_db=-6.0, q=0.707)]


@pytest.fixture(scope="module")
def stereo():
    n = effects.PARALLEL_FILTER_SAMPLES + 12345  # long enough for the threads
    x = np.random.default_rng(7).standard_normal((2, n)).astype(np.float32) * 0.1
    x[1] *= 0.3  # the channels differ
    return x


def _one_call(plugins, x):
    return pb.Pedalboard(plugins)(np.ascontiguousarray(x), float(SR), reset=True)


def test_eq_of_a_long_stereo_signal_is_the_stereo_call_bit_for_bit(stereo):
    np.testing.assert_array_equal(apply_eq(stereo, SR, BANDS), _one_call(eq_plugins(BANDS), stereo))


def test_highpass_of_a_long_stereo_signal_is_the_stereo_call_bit_for_bit(stereo):
    ref = _one_call([pb.HighpassFilter(90.0), pb.HighpassFilter(90.0)], stereo)
    np.testing.assert_array_equal(apply_highpass(stereo, SR, 90.0), ref)


def test_short_and_mono_signals_and_float64_input_give_the_same_samples(stereo):
    short = stereo[:, :4096]
    np.testing.assert_array_equal(apply_eq(short, SR, BANDS), _one_call(eq_plugins(BANDS), short))
    mono = stereo[:1]
    np.testing.assert_array_equal(apply_eq(mono, SR, BANDS), _one_call(eq_plugins(BANDS), mono))
    got = apply_eq(stereo.astype(np.float64), SR, BANDS)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _one_call(eq_plugins(BANDS), stereo))


def test_the_eq_does_what_its_bands_say(stereo):
    """A 1.2 kHz tone through the +3 dB peak at 1.2 kHz comes out 3 dB louder (within
    0.1 dB, the shelves far away), on both channels of the threaded path."""
    t = np.arange(stereo.shape[1]) / SR
    tone = np.tile(0.1 * np.sin(2 * np.pi * 1200.0 * t), (2, 1)).astype(np.float32)
    y = apply_eq(tone, SR, BANDS[1:2])[:, SR:]
    gain_db = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2, axis=1))
                            / np.sqrt(np.mean(tone[:, SR:].astype(np.float64) ** 2, axis=1)))
    np.testing.assert_allclose(gain_db, [3.0, 3.0], atol=0.1)


def test_compressor_of_a_long_stereo_signal_is_the_stereo_call_bit_for_bit(stereo):
    from vocalmix.dsp.effects import CompressorSettings, apply_compressor

    c = CompressorSettings(threshold_db=-30.0, ratio=4.0, attack_ms=5.0, release_ms=60.0)
    ref = _one_call([pb.Compressor(threshold_db=-30.0, ratio=4.0, attack_ms=5.0,
                                   release_ms=60.0)], stereo)
    np.testing.assert_array_equal(apply_compressor(stereo, SR, c), ref)


def test_the_bus_limiter_of_a_long_stereo_mix_is_one_limiter_call(stereo):
    """bus_limit limits a long stereo mix one channel per thread: the samples of one
    stereo call of pedalboard's limiter (the channels differ in level and are limited)."""
    from vocalmix.dsp.chain import LIMITER_HEADROOM_DB, bus_limit

    mix = stereo * np.float32(8.0)
    out, info = bus_limit(mix, SR, -1.0, 60.0)
    assert info["limited"]
    limiter = pb.Limiter(threshold_db=-1.0 - LIMITER_HEADROOM_DB, release_ms=60.0)
    ref = limiter(np.ascontiguousarray(mix), float(SR), reset=True)
    if info["safety_gain_db"]:
        ref = ref * np.float32(10 ** (info["safety_gain_db"] / 20))
    np.testing.assert_array_equal(out, ref)
