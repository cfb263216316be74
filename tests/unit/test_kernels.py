"""vocalmix.dsp.kernels against scipy.signal, whose import the mixing path avoids."""

import numpy as np
import pytest
from scipy import signal

from vocalmix.dsp import kernels


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
