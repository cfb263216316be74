"""A vocal take padded with silence gets the recipe of the take alone (issue 17, item 8).

A 0.05-s vocal over 20-s and 5-min backings got the compressor threshold at its -60 dB floor
and the vocal gain at its +40 dB cap: the EBU Tech 3342 short-term windows that are partly
silent at the edges of a padded take pass the gates and widen its loudness range (3.3 LU
alone, 6.3 LU padded). The rule-based mixer now measures the take's active span.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from vocalmix.measure import loudness
from vocalmix.mixing.api import MixError, load_inputs
from vocalmix.mixing.base import MixContext
from vocalmix.mixing.registry import get_mixer

SR = 22050
LOOP_N = SR // 2  # a 0.5 s backing loop: the backing is the same wherever the take sits


def _vocal(seconds: float) -> np.ndarray:
    """A sung line: harmonic notes, a slow swell, a breath gap every second (wide range)."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 220.0 * 2 ** (np.floor(t * 2) % 5 / 12)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    env = (0.1 + 0.9 * np.sin(np.pi * t / seconds) ** 2) * (np.mod(t, 1.0) < 0.8)
    x = sum(np.sin(k * phase) / k for k in range(1, 8)) * env * 0.3
    return x.astype(np.float32)[None]


def _backing(n_loops: int) -> np.ndarray:
    t = np.arange(LOOP_N) / SR
    rng = np.random.default_rng(3)
    loop = (0.12 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 440 * t)
                    + np.sin(2 * np.pi * 880 * t))
            + 0.3 * rng.standard_normal(LOOP_N) * (t < 0.04))
    return np.tile(loop, n_loops)[None].repeat(2, axis=0).astype(np.float32)


#: Targets that make every rule act: compression (the take's range is wider than 4 + 0.5 LU).
TABLE = {"all": {"vocal_to_backing_lu": 2.0, "vocal_lra_lu": 4.0}}


def _numbers(obj, prefix=""):
    """Every number of a recipe dict, by its path."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{prefix}/{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{prefix}/{i}")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix, float(obj)


@pytest.fixture(scope="module")
def recipes():
    vocal = _vocal(10.0)
    n = vocal.shape[1]
    pad_before = 3 * LOOP_N * 3  # whole loops, so the backing under the take is the same
    padded = np.pad(vocal, ((0, 0), (pad_before, 4 * n - n - pad_before)))
    mixer = get_mixer("rule_based")
    context = MixContext(genre=None, genre_source="average", genre_stats=TABLE)
    alone = mixer.choose(vocal, _backing(n // LOOP_N), SR, context).recipe.to_dict()
    pad = mixer.choose(padded, _backing(4 * n // LOOP_N), SR, context).recipe.to_dict()
    return alone, pad, vocal, padded


def test_padding_changes_no_gain_threshold_or_eq(recipes):
    alone, pad, _, _ = recipes
    assert alone["vocal"]["compressor"] is not None, "the test must make the compressor act"
    assert alone["vocal"]["compressor"]["threshold_db"] > -59.0
    a = dict(_numbers({"vocal": alone["vocal"], "backing": alone["backing"]}))
    p = dict(_numbers({"vocal": pad["vocal"], "backing": pad["backing"]}))
    assert a.keys() == p.keys()
    far = {k: (a[k], p[k]) for k in a if abs(a[k] - p[k]) > 0.1}
    assert not far, far
    assert abs(pad["vocal"]["gain_db"]) < 30.0


def test_padding_changes_no_measured_range_or_level(recipes):
    alone, pad, _, _ = recipes
    for key in ("vocal_lra_lu", "measured_vocal_to_backing_lu", "masking_before_db",
                "masking_after_db", "highpass_hz"):
        assert pad["analysis"][key] == pytest.approx(alone["analysis"][key], abs=0.1), key
    assert abs(pad["analysis"]["measured_vocal_to_backing_lu"] - 2.0) <= 0.5
    assert "vocal_active_span_s" in pad["analysis"]


def test_loudness_range_of_the_active_span(recipes):
    _, _, vocal, padded = recipes
    a, b = loudness.active_span(padded)
    assert loudness.loudness_range(padded[:, a:b], SR) == pytest.approx(
        loudness.loudness_range(vocal[:, : b - a], SR), abs=0.1)
    # the meter itself follows Tech 3342 to the letter: partly silent windows count
    assert loudness.loudness_range(padded, SR) > loudness.loudness_range(vocal, SR) + 1.0


def test_active_span():
    x = np.zeros((2, 100), np.float32)
    assert loudness.active_span(x) == (0, 0)
    x[1, 10] = 0.5
    x[0, 60] = -0.01
    x[0, 80] = 1e-5  # below -70 dBFS: silence
    assert loudness.active_span(x) == (10, 61)


def test_a_far_too_short_vocal_is_refused(tmp_path):
    backing = _backing(40)
    tiny = np.zeros((1, backing.shape[1]), np.float32)
    tiny[:, 1000:1000 + int(0.05 * SR)] = _vocal(0.05)
    context = MixContext(genre=None, genre_source="average", genre_stats=TABLE)
    with pytest.raises(ValueError, match="0.05 s of sound"):
        get_mixer("rule_based").choose(tiny, backing, SR, context)
    v, b = tmp_path / "tiny.wav", tmp_path / "backing.wav"
    sf.write(v, _vocal(0.05)[0], SR)
    sf.write(b, backing.T, SR)
    with pytest.raises(MixError, match=r"tiny\.wav: 0\.05 s of sound.*400 ms"):
        load_inputs(str(v), str(b), warn=lambda m: None)
    assert math.isfinite(loudness.integrated_loudness(backing, SR))
