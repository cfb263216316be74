"""The faster paths of the data-driven mix (issue 20) against the computations they replace:
the same numbers (bit for bit where the new path only reorders or overlaps the work)."""

from __future__ import annotations

import numpy as np
import pytest


def test_the_predictors_fast_pooling_gives_the_networks_outputs():
    """Inference pools 2x2 as the larger of even and odd rows and columns instead of
    ``max_pool2d``: the same outputs as the network's own forward, bit for bit, on odd and
    even window lengths and with NaN in the input (it propagates as there)."""
    torch = pytest.importorskip("torch")
    from vocalmix.models.nets import MixNet, Predictor, _infer

    torch.manual_seed(3)
    net = MixNet(5, n_mels=32, channels=(8, 16, 16), hidden=16).eval()
    rng = np.random.default_rng(3)
    for frames in (129, 64, 9):
        x = torch.from_numpy(rng.standard_normal((9, 2, 32, frames)).astype(np.float32))
        with torch.no_grad():
            assert torch.equal(_infer(net, x), net(x)), frames
    short = torch.zeros((1, 2, 32, 7))  # too short for the last pool: refused as before
    for forward in (net, lambda v: _infer(net, v)):
        with torch.no_grad(), pytest.raises(RuntimeError):
            forward(short)
    x[2, 0, 5, 3] = float("nan")
    with torch.no_grad():
        assert torch.equal(torch.isnan(_infer(net, x)), torch.isnan(net(x)))
    meta = {"targets": [f"t{k}" for k in range(5)], "input": {"channels": ["vocal", "backing"]},
            "input_mean": [0.1, -0.2], "input_std": [1.5, 2.0],
            "target_mean": [0.0] * 5, "target_std": [2.0] * 5}
    windows = rng.standard_normal((70, 2, 32, 40)).astype(np.float32)
    expected = []
    with torch.no_grad():
        for i in range(0, 70, 64):  # the predictor's batches, through the network's forward
            xb = (windows[i: i + 64] - np.array([0.1, -0.2], np.float32)[None, :, None, None]) \
                / np.array([1.5, 2.0], np.float32)[None, :, None, None]
            expected.append(net(torch.from_numpy(np.ascontiguousarray(xb))).numpy() * 2.0)
    assert np.array_equal(Predictor(net, meta)(windows), np.concatenate(expected))


def _song(sr: int, seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    vocal = (0.2 * np.sin(2 * np.pi * 220 * t) * ((t < 4) | (t > 9)))[None, :]
    vocal = (vocal + 0.001 * rng.standard_normal(vocal.shape)).astype(np.float32)
    backing = (0.1 * rng.standard_normal((2, t.size))).astype(np.float32)
    return vocal, backing


def test_the_backing_side_started_early_gives_the_same_windows():
    """The data-driven system starts the backing's side of the windows (its loudness, then
    its log-mel) beside the clean-up: the windows, silent flags and analyses are those the
    windows compute on their own."""
    from concurrent.futures import ThreadPoolExecutor

    from vocalmix.features.extract import WindowSettings
    from vocalmix.mixing.data_driven import _backing_side, _model_windows

    sr = 22050
    vocal, backing = _song(sr, 12.0, 21)
    spec = {"sample_rate": sr, "n_fft": 1024, "hop": 512, "n_mels": 32, "window_s": 3.0}
    win = WindowSettings(window_s=3.0, hop_s=1.0)
    models = {"eq": type("M", (), {"meta": {"input": spec}})()}
    alone = _model_windows(vocal, backing, sr, spec, win)
    with ThreadPoolExecutor(1) as pool:
        early = pool.submit(_backing_side, backing, sr, lambda: models)
        given = _model_windows(vocal, backing, sr, spec, win, backing_side=early)
    for a, b in zip(alone[:3], given[:3]):
        assert np.array_equal(a, b)
    assert alone[3].summary() == given[3].summary()
    assert alone[4].summary() == given[4].summary()
    other = {"eq": type("M", (), {"meta": {"input": {**spec, "sample_rate": 44100}}})()}
    assert _backing_side(backing, sr, lambda: other) is None


def test_a_range_search_made_ahead_is_the_search_compress_to_range_makes():
    """The data-driven system searches the compressor's threshold on the dry vocal in a
    thread beside the reverb's level, on a range meter compress_to_range then reuses: the
    same threshold, range (0 LU apart) and wet vocal as a search of its own."""
    from vocalmix.dsp.reverb import ReverbSettings
    from vocalmix.mixing.common import (VOCAL_COMPRESSOR, RangeMeter, compress_to_range,
                                        search_threshold)

    sr = 22050
    rng = np.random.default_rng(22)
    t = np.arange(20 * sr) / sr
    env = np.repeat(rng.uniform(0.02, 0.5, t.size // sr + 1), sr)[: t.size]
    vocal = (env * np.sin(2 * np.pi * 330 * t))[None, :].astype(np.float32)
    reverb = ReverbSettings(room_size=0.6, wet_db=-8.0)
    own = compress_to_range(vocal, sr, 3.0, reverb)
    ranges = RangeMeter(vocal, sr, VOCAL_COMPRESSOR)
    search_threshold(vocal, sr, 3.0, meter=ranges)
    ahead = compress_to_range(vocal, sr, 3.0, reverb, meter=ranges)
    assert own.threshold_db == ahead.threshold_db and own.lra_lu == ahead.lra_lu
    assert own.reachable == ahead.reachable and np.array_equal(own.wet, ahead.wet)


def test_the_inputs_read_side_by_side_are_the_files(tmp_path):
    """load_inputs decodes the two files in two threads: the arrays read one after the
    other; an unreadable backing is still the error reported, before the vocal's."""
    from vocalmix.audio import read_audio, write_audio
    from vocalmix.mixing.api import MixError, load_inputs

    sr = 22050
    vocal, backing = _song(sr, 5.0, 23)
    write_audio(tmp_path / "v.wav", vocal, sr, subtype="FLOAT")
    write_audio(tmp_path / "b.wav", backing, sr, subtype="FLOAT")
    v, b, rate = load_inputs(str(tmp_path / "v.wav"), str(tmp_path / "b.wav"), lambda m: None)
    assert rate == sr
    assert np.array_equal(v, read_audio(tmp_path / "v.wav")[0])
    assert np.array_equal(b, read_audio(tmp_path / "b.wav")[0])
    (tmp_path / "bad_vocal.wav").write_bytes(b"not audio")
    (tmp_path / "bad_backing.wav").write_bytes(b"not audio")
    with pytest.raises(MixError, match="bad_backing.wav"):
        load_inputs(str(tmp_path / "bad_vocal.wav"), str(tmp_path / "bad_backing.wav"),
                    lambda m: None)
    with pytest.raises(MixError, match="bad_vocal.wav"):
        load_inputs(str(tmp_path / "bad_vocal.wav"), str(tmp_path / "b.wav"), lambda m: None)
