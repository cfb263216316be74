"""Blocked WPE dereverberation (issue 19): one block is nara-wpe's whole-signal WPE bit for
bit; longer signals are cut into cross-faded blocks whose result stays close to it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import oaconvolve

from vocalmix.dsp.corruption import WPE, WPE_BLOCKS, dereverberate

SR = 16000


def _wet_vocal(seconds: float, seed: int = 0) -> np.ndarray:
    """A stereo 'vocal': harmonic notes with vibrato in an exponentially decaying room."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 220.0 * 2 ** (np.floor(t / 0.5) % 5 / 12) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    dry = sum(np.sin(k * phase) / k for k in range(1, 8)) * (np.sin(np.pi * t / 0.5) ** 2)
    ir_t = np.arange(int(0.6 * SR)) / SR
    wet = [oaconvolve(dry, np.r_[1.0, rng.normal(size=ir_t.size - 1) * 0.3
                                 * np.exp(-ir_t[1:] / 0.12)])[: t.size] for _ in range(2)]
    return (0.1 * np.stack(wet)).astype(np.float32)


def _whole_nara(audio: np.ndarray) -> np.ndarray:
    """The corruption stage before issue 19: nara-wpe on the whole signal's spectrogram."""
    from nara_wpe.utils import istft, stft
    from nara_wpe.wpe import wpe

    p = WPE
    mono = np.asarray(audio, dtype=np.float64).mean(axis=0, keepdims=True)
    spec = stft(mono, size=p["size"], shift=p["shift"])
    out = wpe(spec.transpose(2, 0, 1), taps=p["taps"], delay=p["delay"],
              iterations=p["iterations"], statistics_mode="full").transpose(1, 2, 0)
    y = istft(out, size=p["size"], shift=p["shift"])[:, : mono.shape[1]]
    return np.pad(y, ((0, 0), (0, mono.shape[1] - y.shape[1]))).astype(np.float32)


def test_one_block_is_whole_signal_wpe_bit_for_bit():
    x = _wet_vocal(3.0)
    assert x.shape[1] <= WPE_BLOCKS["block_s"] * SR
    np.testing.assert_array_equal(dereverberate(x, SR), _whole_nara(x))
    # filtering fewer bins at a time changes nothing
    np.testing.assert_array_equal(dereverberate(x, SR, bins_per_chunk=7), _whole_nara(x))


def test_demo_songs_are_one_block():
    assert WPE_BLOCKS["block_s"] >= 12.0  # config demo.duration_s: demo bytes unchanged


def test_blocks_cover_the_signal_and_stay_close_to_whole_signal_wpe():
    x = _wet_vocal(7.3)
    whole = dereverberate(x, SR, block_s=100.0)
    blocked = dereverberate(x, SR, block_s=3.0, overlap_s=1.0)
    assert blocked.shape == whole.shape == (1, x.shape[1]) and blocked.dtype == np.float32
    assert np.all(np.isfinite(blocked))
    snr_db = 10 * np.log10(np.sum(whole ** 2) / np.sum((whole - blocked) ** 2))
    assert snr_db > 10.0
    # no seam: sample-to-sample steps at the block joins are like those elsewhere
    step = np.abs(np.diff(blocked[0]))
    assert step.max() < 1.5 * np.abs(np.diff(whole[0])).max()


@pytest.mark.parametrize("kw", [{"block_s": 2.0, "overlap_s": 2.0},
                                {"block_s": 2.0, "overlap_s": 0.0}])
def test_bad_blocks_are_refused(kw):
    with pytest.raises(ValueError, match="overlap_s"):
        dereverberate(_wet_vocal(1.0), SR, **kw)
