"""The held-out comparison of the mixing systems (rule ``evaluate_models``): what it
measures, and that it holds one track and one system's arrays at a time."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pytest

from vocalmix.audio import write_audio
from vocalmix.dsp.recipe import MixRecipe, VocalRecipe
from vocalmix.evaluation import systems
from vocalmix.mixing.base import MixChoice, MixingSettings
from vocalmix.mixing.registry import SYSTEMS

from tests.unit.test_mixer_contract import SR, STATS, _signals


def test_a_mono_vocal_is_measured_as_the_stereo_stem_that_repeats_it():
    """The unprocessed system's vocal stem is the mono vocal in both channels; measured
    through the channel weights instead of a stereo copy, every figure is the same."""
    vocal, backing = _signals(4.0)
    copy = systems._measure(np.repeat(vocal, 2, axis=0), backing, SR)
    weighted = systems._measure(vocal, backing, SR, vocal_weights=[2.0])
    assert weighted["ratio"] == copy["ratio"]
    assert weighted["lra"] == copy["lra"]
    assert np.array_equal(weighted["shape"], copy["shape"], equal_nan=True)


@dataclass(frozen=True)
class _TrackedChoice(MixChoice):
    """A choice whose render is remembered by weak reference only."""

    made: list = None

    def render(self, vocal, backing, sample_rate):
        res = super().render(vocal, backing, sample_rate)
        self.made.extend(weakref.ref(a) for a in (res.mix, res.vocal, res.backing))
        return res


class _Mixer:
    """A system that prepares a vocal of its own (as the real ones do) and checks, when
    asked, that nothing another system made is still alive."""

    needs_genre = True

    def __init__(self, name: str, made: list):
        self.name, self.made = name, made

    def choose(self, vocal, backing, sample_rate, context):
        assert all(ref() is None for ref in self.made), "an earlier system's arrays are alive"
        corrected = vocal.copy()
        self.made.append(weakref.ref(corrected))
        return _TrackedChoice(MixRecipe(system=self.name,
                                        vocal=VocalRecipe(highpass_hz=None, gain_db=-6.0),
                                        analysis={}),
                              pitch_corrected=corrected, made=self.made)


def test_each_systems_arrays_are_freed_before_the_next_system_runs(monkeypatch, tmp_path):
    made: list = []
    for name in SYSTEMS:
        monkeypatch.setitem(SYSTEMS, name, lambda name=name: _Mixer(name, made))
    estimate = systems.estimate_from_levels

    def checked_estimate(*levels):  # the unprocessed system runs last
        assert all(ref() is None for ref in made), "a mixing system's arrays are alive"
        return estimate(*levels)

    monkeypatch.setattr(systems, "estimate_from_levels", checked_estimate)
    vocal, backing = _signals(4.0)
    write_audio(tmp_path / "v.wav", vocal, SR)
    write_audio(tmp_path / "b.wav", backing, SR)
    row = {"track_id": "t", "dataset": "demo", "genre": "rock",
           "backing": str(tmp_path / "b.wav")}
    features = {"vocal_to_backing_lu": 0.0,
                "vocal": {"loudness_range_lu": 5.0, "eq_shape_db": [0.0] * 31}}
    rows = systems.evaluate_track(row, features, str(tmp_path / "v.wav"),
                                  models={"level": object()}, genre_stats=STATS,
                                  mixing=MixingSettings(smooth_windows=3), hop_s=0.5)
    assert [r["system"] for r in rows] == ["data_driven", "rule_based", "no_processing"]
    assert len(made) == 2 * 4  # each system's corrected vocal and its render's three arrays
    # the -6 dB vocal gain of both systems is what got measured
    for r in rows[:2]:
        assert r["ratio_lu"] == pytest.approx(rows[2]["ratio_lu"] - 6.0, abs=0.3)


def test_with_a_window_the_systems_mix_and_are_measured_on_that_part_only(monkeypatch,
                                                                         tmp_path):
    """``window`` (the analysis window of a long song): every system is given that part of
    the song and measured on it -- the same figures as the files cut to it."""
    seen: list = []

    class _Seeing(_Mixer):
        def choose(self, vocal, backing, sample_rate, context):
            seen.append((vocal.shape[1], backing.shape[1]))
            return super().choose(vocal, backing, sample_rate, context)

    for name in SYSTEMS:
        monkeypatch.setitem(SYSTEMS, name, lambda name=name: _Seeing(name, []))
    vocal, backing = _signals(9.0)
    backing[:, : 3 * SR] *= 4.0  # a louder backing outside the window
    start, n = 4 * SR, 4 * SR
    features = {"vocal_to_backing_lu": 0.0,
                "vocal": {"loudness_range_lu": 5.0, "eq_shape_db": [0.0] * 31}}
    rows = {}
    for label, (v, b, window) in {
            "window": (vocal, backing, (start, n)),
            "cut": (vocal[:, start:start + n], backing[:, start:start + n], None)}.items():
        write_audio(tmp_path / f"{label}.v.wav", v, SR)
        write_audio(tmp_path / f"{label}.b.wav", b, SR)
        row = {"track_id": "t", "dataset": "demo", "genre": "rock",
               "backing": str(tmp_path / f"{label}.b.wav")}
        rows[label] = systems.evaluate_track(
            row, features, str(tmp_path / f"{label}.v.wav"), models={"level": object()},
            genre_stats=STATS, mixing=MixingSettings(smooth_windows=3), hop_s=0.5,
            window=window)
    assert seen == [(n, n)] * 4
    for w, c in zip(rows["window"], rows["cut"]):
        assert w["system"] == c["system"]
        assert w["ratio_lu"] == pytest.approx(c["ratio_lu"], abs=1e-6)
        assert w["lra_lu"] == pytest.approx(c["lra_lu"], abs=1e-6)
