"""vocalmix.kernels against scipy.signal, whose import the mixing path avoids."""

import numpy as np
import pytest
from scipy import signal

from vocalmix import kernels


@pytest.fixture
def noise():
    return np.random.default_rng(3).standard_normal((2, 20000)).astype(np.float32)


def test_sosfilt_gives_scipys_samples(noise):
    sos = signal.butter(4, [200, 3000], btype="band", fs=44100, output="sos")
    np.testing.assert_array_equal(kernels.sosfilt(sos, noise), signal.sosfilt(sos, noise))
    # with states, carried over two halves: the whole signal's samples
    zi = np.zeros((2, sos.shape[0], 2))
    a, zf = kernels.sosfilt(sos, noise[:, :7000], zi=zi)
    b, _ = kernels.sosfilt(sos, noise[:, 7000:], zi=zf)
    np.testing.assert_allclose(np.concatenate([a, b], axis=1), signal.sosfilt(sos, noise),
                               rtol=0, atol=1e-12)
    assert kernels.sosfilt(sos, noise[0]).shape == (20000,)


@pytest.mark.parametrize("btype", ["low", "high"])
@pytest.mark.parametrize("fc", [20.0, 200.0, 8000.0, 21000.0])
def test_first_order_sos_matches_butter(btype, fc):
    ours = kernels.first_order_sos(fc, btype, 44100)
    theirs = signal.butter(1, fc, btype=btype, fs=44100, output="sos")
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    # -3.01 dB at the cutoff
    _, h = signal.sosfreqz(ours, worN=[fc], fs=44100)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(-3.0103, abs=1e-3)


def test_first_order_sos_rejects_bad_cutoff():
    with pytest.raises(ValueError):
        kernels.first_order_sos(30000.0, "low", 44100)
    with pytest.raises(ValueError):
        kernels.first_order_sos(100.0, "band", 44100)


@pytest.mark.parametrize("n,cutoff", [(48, 0.25), (24, 0.5), (31, 0.3)])
def test_kaiser_lowpass_matches_firwin(n, cutoff):
    np.testing.assert_allclose(kernels.kaiser_lowpass(n, cutoff, 5.0),
                               signal.firwin(n, cutoff, window=("kaiser", 5.0)),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", [1, 3, 4])
@pytest.mark.parametrize("sr,band", [(44100, 125), (44100, 1000), (48000, 8000),
                                     (96000, 125), (96000, 4000)])
def test_butter_bandpass_sos_is_butters_filter(noise, order, sr, band):
    lo, hi = band / np.sqrt(2), min(band * np.sqrt(2), 0.49 * sr)
    ours = kernels.butter_bandpass_sos(order, lo, hi, sr)
    theirs = signal.butter(order, [lo, hi], btype="bandpass", fs=sr, output="sos")
    assert ours.shape == theirs.shape
    # the same response, grouped into sections differently: equal to rounding
    _, h_ours = signal.sosfreqz(ours, worN=2048, fs=sr)
    _, h_theirs = signal.sosfreqz(theirs, worN=2048, fs=sr)
    np.testing.assert_allclose(h_ours, h_theirs, rtol=0, atol=1e-10)
    y = signal.sosfilt(theirs, noise[0].astype(np.float64))
    np.testing.assert_allclose(kernels.sosfilt(ours, noise[0]), y, rtol=0,
                               atol=1e-10 * np.max(np.abs(y)))


def test_butter_bandpass_sos_rejects_bad_bands():
    with pytest.raises(ValueError):
        kernels.butter_bandpass_sos(3, 1000.0, 500.0, 44100)
    with pytest.raises(ValueError):
        kernels.butter_bandpass_sos(3, 100.0, 30000.0, 44100)
    with pytest.raises(ValueError, match="too wide"):
        kernels.butter_bandpass_sos(3, 100.0, 10000.0, 44100)


def test_sosfilt_inplace_in_each_precision(noise):
    sos = np.vstack([kernels.first_order_sos(200.0, "high", 44100)] * 2
                    + [kernels.first_order_sos(8000.0, "low", 44100)] * 2)
    expected = signal.sosfilt(sos, noise.astype(np.float64))
    y64 = noise.astype(np.float64)
    kernels.sosfilt_inplace(sos, y64)
    np.testing.assert_array_equal(y64, expected)
    y32 = noise.copy()
    kernels.sosfilt_inplace(sos, y32)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, expected, rtol=0, atol=2e-6)
    with pytest.raises(ValueError):
        kernels.sosfilt_inplace(sos, noise[:, ::2])  # not contiguous


def test_sosfilt_zi_and_sosfiltfilt_are_scipys():
    from scipy import signal

    from vocalmix.kernels import sosfilt_zi, sosfiltfilt, sosfiltfilt_padlen

    sos = signal.butter(4, (500.0, 2000.0), btype="bandpass", fs=44100, output="sos")
    assert np.allclose(sosfilt_zi(sos), signal.sosfilt_zi(sos), rtol=1e-12, atol=1e-14)
    x = np.random.default_rng(3).standard_normal((2, 20000))
    reference = signal.sosfiltfilt(sos, x)
    assert np.max(np.abs(sosfiltfilt(sos, x) - reference)) <= 1e-12 * np.max(np.abs(reference))
    assert np.allclose(sosfiltfilt(sos, x[0]), reference[0], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="needs more than"):
        sosfiltfilt(sos, x[0, : sosfiltfilt_padlen(sos)])


def _decimate_by_definition(x, factor, taps_per_factor=10, beta=6.0):
    """``out[i] = sum_k h[k] xp[i * factor + k]``, each tap read with a stride over the
    whole padded signal and added in float32, tap after tap."""
    x = np.asarray(x, dtype=np.float32)
    n_taps = taps_per_factor * factor + 1
    h = kernels.kaiser_lowpass(n_taps, 0.9 / factor, beta).astype(np.float32)
    half = n_taps // 2
    xp = np.concatenate([np.zeros(half, np.float32), x, np.zeros(half + factor, np.float32)])
    m = -(-x.size // factor)
    out = np.zeros(m, dtype=np.float32)
    for k in range(n_taps):
        out += h[k] * xp[k: k + m * factor: factor]
    return out


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("n", [1, 7, kernels.DECIMATE_BLOCK * 4 - 1, kernels.DECIMATE_BLOCK * 9 + 3])
def test_decimate_is_its_definition_bit_for_bit(factor, n):
    """Blocks and phases change where the samples are read from, not the sums."""
    x = np.random.default_rng(n + factor).standard_normal(n).astype(np.float32)
    got = kernels.decimate(x, factor)
    assert got.dtype == np.float32 and got.shape == (-(-n // factor),)
    np.testing.assert_array_equal(got, _decimate_by_definition(x, factor))
    np.testing.assert_array_equal(kernels.decimate(x, factor, taps_per_factor=3),
                                  _decimate_by_definition(x, factor, taps_per_factor=3))


def test_decimate_keeps_the_passband_and_rejects_aliases():
    """A 1 kHz tone decimated 4:1 from 44.1 kHz keeps its level within 0.01 dB; a 9 kHz
    tone (above the new 5.5 kHz Nyquist) is at least 40 dB down instead of aliasing."""
    sr, factor = 44100, 4
    t = np.arange(sr) / sr

    def level_db(f):
        y = kernels.decimate(np.sin(2 * np.pi * f * t), factor)[500:-500]
        return 20 * np.log10(np.sqrt(2 * np.mean(y.astype(np.float64) ** 2)))

    assert abs(level_db(1000.0)) < 0.01
    assert level_db(9000.0) < -40.0
