"""The reverb's render over the send in blocks, and in two halves side by side for a long
send (:mod:`vocalmix.dsp.reverb`): the one-pass render of pedalboard's plugin, bit for bit
in blocks, within the plugin's own float32 rounding noise in halves (its recursion settles
90-116 dB below an impulse's peak instead of decaying further)."""

from __future__ import annotations

import numpy as np
import pedalboard as pb
import pytest

from vocalmix.dsp import reverb as R
from vocalmix.dsp.reverb import ReverbSettings, reverb_return

SR = 44100


def _settings(room: float, size: float = 1.0) -> ReverbSettings:
    return ReverbSettings(room_size=room, size=size, damping=0.4, width=1.0, wet_db=-6.0,
                          predelay_ms=20.0, highpass_hz=150.0, lowpass_hz=9000.0)


def _one_pass(x: np.ndarray, s: ReverbSettings) -> np.ndarray:
    """reverb_return with the plugin run in one call over the whole send (as before the
    blocks and halves): the reference."""
    plugin_call = R._render_in_place

    def whole(make_plugin, send, rate, ring):
        send[:] = make_plugin()(send, rate, reset=True)
        return send

    R._render_in_place = whole
    try:
        return reverb_return(x, SR, s)
    finally:
        R._render_in_place = plugin_call


@pytest.fixture(scope="module")
def take():
    """25 s of a syllabic 'voice': noise bursts with gaps, mono."""
    rng = np.random.default_rng(3)
    n = 25 * SR
    env = (np.sin(2 * np.pi * 2.5 * np.arange(n) / SR) > 0).astype(np.float32)
    return (0.1 * rng.standard_normal(n) * env).astype(np.float32)[None, :]


def test_a_short_send_in_blocks_is_the_one_call_bit_for_bit(take):
    x = take[:, : R.SPLIT_MIN_SAMPLES // 2]  # its send (plus latency) is still short
    s = _settings(0.5)
    np.testing.assert_array_equal(reverb_return(x, SR, s), _one_pass(x, s))


@pytest.mark.parametrize("room,size", [(0.3, 1.0), (0.8, 1.0), (0.9, 0.5)])
def test_a_long_send_in_halves_is_the_one_call_within_rounding_noise(take, room, size):
    """At most 90 dB below the return's peak anywhere, 100 dB below its RMS overall
    (measured: -95 to -105 dB and -104 to -114 dB for these rooms)."""
    s = _settings(room, size)
    assert take.shape[1] >= max(R.SPLIT_MIN_SAMPLES, 4 * R.ring_samples(s, SR))
    got, ref = reverb_return(take, SR, s), _one_pass(take, s)
    assert got.shape == ref.shape == (2, take.shape[1])
    diff = (got - ref).astype(np.float64)
    peak, rms = float(np.abs(ref).max()), float(np.sqrt(np.mean(ref.astype(np.float64) ** 2)))
    assert float(np.abs(diff).max()) <= peak * 10 ** (-90 / 20)
    assert float(np.sqrt(np.mean(diff ** 2))) <= rms * 10 ** (-100 / 20)
    # the halves' seam sits at the middle: the first half is the one-pass render exactly
    half = take.shape[1] // 2 - int(round(s.predelay_ms / 1000 * SR))
    np.testing.assert_array_equal(got[:, : half - R.latency_samples(SR * size)],
                                  ref[:, : half - R.latency_samples(SR * size)])


@pytest.mark.parametrize("room", [0.3, 0.9])
def test_after_the_ring_out_an_impulses_return_is_rounding_noise(room):
    """After ring_samples of silence an impulse's return is 90 dB or more below its peak
    (the halves drop what the first half's plugin would add after that)."""
    s = _settings(room, 1.0)
    ring = R.ring_samples(s, SR)
    x = np.zeros((2, ring + SR), dtype=np.float32)
    x[:, 0] = 1.0
    y = pb.Reverb(room_size=s.room_size, damping=s.damping, wet_level=1.0, dry_level=0.0,
                  width=1.0)(x, float(SR), reset=True)
    peak = float(np.abs(y).max())
    assert float(np.abs(y[:, ring:]).max()) <= peak * 10 ** (-90 / 20)
