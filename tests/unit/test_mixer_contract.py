"""One Mixer contract: the registry of systems, one name per system, and every caller
(``vocalmix mix``, the render stage, the held-out evaluation) going through it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vocalmix import conditions
from vocalmix.audio import write_audio
from vocalmix.dsp.recipe import MixRecipe, VocalRecipe
from vocalmix.mixing import common
from vocalmix.mixing.base import MixChoice, MixContext
from vocalmix.mixing.registry import SYSTEMS, get_mixer

SR = 44100
STATS = {"rock": {"vocal_to_backing_lu": -1.0, "vocal_lra_lu": 5.0},
         "all": {"vocal_to_backing_lu": 1.5, "vocal_lra_lu": 6.0}}


def _signals(seconds: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """A mono sung-like vocal with phrase gaps and a stereo noise backing."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(220.0 * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))) / SR
    vocal = sum(np.sin(k * phase) / k for k in range(1, 6)) * (np.sin(2 * np.pi * 0.5 * t) > -0.5)
    backing = 0.05 * np.random.default_rng(0).standard_normal((2, t.size))
    return (0.2 * vocal)[None, :].astype(np.float32), backing.astype(np.float32)


class FakeMixer:
    """A system that records what it was asked and answers a fixed recipe."""

    needs_genre = True

    def __init__(self, name: str):
        self.name = name
        self.calls: list[MixContext] = []

    def choose(self, vocal, backing, sample_rate, context):
        self.calls.append(context)
        return MixChoice(MixRecipe(system=self.name, vocal=VocalRecipe(highpass_hz=None, gain_db=-6.0),
                                   analysis={"fake": True}))


@pytest.fixture
def fakes(monkeypatch) -> dict[str, FakeMixer]:
    made = {name: FakeMixer(name) for name in SYSTEMS}
    for name, mixer in made.items():
        monkeypatch.setitem(SYSTEMS, name, lambda mixer=mixer: mixer)
    return made


# ------------------------------------------------------------------------------- names
def test_systems_are_the_automatic_conditions_and_the_preset():
    assert set(SYSTEMS) == set(conditions.SYSTEMS) | {"preset"}
    assert set(conditions.SYSTEMS) <= set(conditions.CONDITIONS)
    for name in SYSTEMS:
        assert get_mixer(name).name == name


def test_cli_offers_exactly_the_registered_systems():
    from vocalmix.cli import build_parser

    parser = build_parser()
    mix = next(a for a in parser._subparsers._group_actions[0].choices.values()
               if a.prog.endswith(" mix"))
    system = next(a for a in mix._actions if "--system" in a.option_strings)
    assert tuple(system.choices) == tuple(SYSTEMS)
    assert system.default == "rule_based"


def test_an_unknown_system_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown mixing system 'rule'; one of rule_based, "
                                         "data_driven, preset"):
        get_mixer("rule")


def test_data_driven_without_models_is_a_clear_error():
    vocal, backing = _signals(1.0)
    with pytest.raises(ValueError, match="needs a trained model directory"):
        get_mixer("data_driven").choose(vocal, backing, SR, MixContext())


# ------------------------------------------------------------------- one registry, three callers
def test_render_stage_cleans_raw_takes_and_passes_the_reference(fakes, monkeypatch, tmp_path):
    """render.cleanup 'auto' cleans raw takes only, for the two automatic systems (the
    preset stands for a commercial tool and is left as it is); a reference song reaches
    both systems' context, measured once per render."""
    from vocalmix.evaluation import render as render_mod
    from vocalmix.evaluation.render import RenderSettings, render_condition
    from vocalmix.mixing import reference as ref_mod
    from vocalmix.mixing.common import PHONE_TAKE_CLEANUP

    settings = RenderSettings()
    assert settings.cleanup == "auto"
    assert settings.cleanup_for("raw") and not settings.cleanup_for("corrupted")
    assert RenderSettings.from_mapping({"cleanup": False}).cleanup_for("raw") is False
    song = tmp_path / "t_ref.wav"
    song.write_bytes(b"")
    assert render_mod.reference_song_for({"track_id": "t"}, str(tmp_path / "{track}_ref.wav")) \
        == str(song)
    assert render_mod.reference_song_for({"track_id": "u"}, str(tmp_path / "{track}_ref.wav")) \
        is None
    seen = []
    monkeypatch.setattr(ref_mod, "analyse_reference",
                        lambda path, sr, **kw: seen.append((path, kw)) or "TARGETS")
    vocal, backing = _signals()
    row = {"track_id": "t", "genre": "rock"}
    for condition in ("rule_based", "data_driven", "commercial"):
        _, _, _, info = render_condition(condition, row=row, backing=backing, sample_rate=SR,
                                         vocal_in=vocal, input_role="raw", genre_stats=STATS,
                                         cleanup=True, reference_song=str(song))
    rb, = fakes["rule_based"].calls
    dd, = fakes["data_driven"].calls
    pre, = fakes["preset"].calls
    assert rb.cleanup == dd.cleanup == PHONE_TAKE_CLEANUP and pre.cleanup is None
    assert rb.reference == dd.reference == "TARGETS" and pre.reference is None
    assert [p for p, _ in seen] == [str(song)] * 2


def test_render_stage_calls_the_registered_systems(fakes):
    from vocalmix.evaluation.render import render_condition

    vocal, backing = _signals()
    row = {"track_id": "t", "genre": "rock"}
    _, v, b, info = render_condition("rule_based", row=row, backing=backing, sample_rate=SR,
                                     vocal_in=vocal, genre_stats=STATS, genre="rock")
    assert info["source"] == "rule_based" and info["recipe"]["analysis"] == {"fake": True}
    (context,) = fakes["rule_based"].calls
    assert (context.genre, context.genre_source, context.genre_stats) == ("rock", "metadata",
                                                                         STATS)
    # the stems are the fake recipe rendered by the shared chain: the vocal 6 dB down
    assert v.shape == b.shape == (2, backing.shape[1])
    models = {"level": object()}
    from vocalmix.mixing.base import MixingSettings

    _, _, _, info = render_condition("data_driven", row=row, backing=backing, sample_rate=SR,
                                     vocal_in=vocal, models=models,
                                     mixing=MixingSettings(smooth_windows=3), hop_s=0.5)
    (context,) = fakes["data_driven"].calls
    assert context.models is models and (context.smooth_windows, context.hop_s) == (3, 0.5)
    _, _, _, info = render_condition("commercial", row=row, backing=backing, sample_rate=SR,
                                     vocal_in=vocal, pitch_correct=True)
    assert info["source"] == "preset" and info["recipe"]["system"] == "preset"
    assert [c.pitch_correct for c in fakes["preset"].calls] == [True]


def test_cli_calls_the_registered_systems(fakes, tmp_path, monkeypatch):
    from vocalmix.cli import main

    vocal, backing = _signals()
    write_audio(tmp_path / "v.wav", vocal, SR)
    write_audio(tmp_path / "b.wav", backing, SR)
    monkeypatch.chdir(tmp_path)  # no results/genre/model.json of a local run
    assert main(["mix", "--vocal", "v.wav", "--backing", "b.wav", "-o", "mix.wav",
                 "--genre-model", "none"]) == 0
    recipe = json.loads((tmp_path / "mix.recipe.json").read_text())
    assert recipe["system"] == "rule_based" and recipe["analysis"]["fake"] is True
    assert recipe["analysis"]["genre_model"] is None  # the CLI's genre details are kept
    (context,) = fakes["rule_based"].calls
    assert context.genre is None and context.genre_source == "average"
    assert "all" in context.genre_stats  # the packaged genre table
    assert main(["mix", "--vocal", "v.wav", "--backing", "b.wav", "-o", "mix2.wav",
                 "--system", "data_driven", "--model", "models_dir"]) == 0
    (context,) = fakes["data_driven"].calls
    assert context.model_dir == Path("models_dir")
    assert json.loads((tmp_path / "mix2.recipe.json").read_text())["system"] == "data_driven"


def test_cli_data_driven_without_a_model_directory_exits_with_the_reason(tmp_path, capsys):
    from vocalmix.cli import main

    vocal, backing = _signals(1.0)
    write_audio(tmp_path / "v.wav", vocal, SR)
    write_audio(tmp_path / "b.wav", backing, SR)
    assert main(["mix", "--vocal", str(tmp_path / "v.wav"), "--backing",
                 str(tmp_path / "b.wav"), "-o", str(tmp_path / "m.wav"),
                 "--system", "data_driven"]) == 2
    assert "needs a trained model directory" in capsys.readouterr().err


def test_model_evaluation_calls_the_registered_systems(fakes, tmp_path):
    from vocalmix.evaluation.systems import evaluate_track

    vocal, backing = _signals()
    write_audio(tmp_path / "v.wav", vocal, SR)
    write_audio(tmp_path / "b.wav", backing, SR)
    row = {"track_id": "t", "dataset": "demo", "genre": "rock",
           "backing": str(tmp_path / "b.wav")}
    features = {"vocal_to_backing_lu": 0.0,
                "vocal": {"loudness_range_lu": 5.0, "eq_shape_db": [0.0] * 31}}
    models = {"level": object()}
    from vocalmix.mixing.base import MixingSettings

    rows = evaluate_track(row, features, str(tmp_path / "v.wav"), models=models,
                          genre_stats=STATS, mixing=MixingSettings(smooth_windows=3), hop_s=0.5)
    assert [r["system"] for r in rows] == ["data_driven", "rule_based", "no_processing"]
    (dd,) = fakes["data_driven"].calls
    (rb,) = fakes["rule_based"].calls
    assert dd is rb  # one context for the track
    assert dd.models is models and (dd.genre, dd.genre_source) == ("rock", "metadata")
    assert (dd.smooth_windows, dd.hop_s) == (3, 0.5)
    # the fake recipe's -6 dB vocal gain is what got measured
    assert rows[0]["ratio_lu"] == pytest.approx(rows[2]["ratio_lu"] - 6.0, abs=0.3)


# ----------------------------------------------------------------------- lazy torch
def test_rule_based_mixing_never_imports_torch(tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        from vocalmix.audio import write_audio
        from vocalmix.cli import main
        from vocalmix.mixing.base import MixContext
        from vocalmix.mixing.registry import get_mixer

        sr = {SR}
        t = np.arange(3 * sr) / sr
        vocal = (0.2 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > -0.5))
        vocal = vocal[None, :].astype(np.float32)
        backing = (0.05 * np.random.default_rng(0).standard_normal((2, t.size))).astype(np.float32)
        choice = get_mixer("rule_based").choose(vocal, backing, sr,
                                                MixContext(genre_stats={STATS!r}))
        write_audio("v.wav", vocal, sr)
        write_audio("b.wav", backing, sr)
        rc = main(["mix", "--vocal", "v.wav", "--backing", "b.wav", "-o", "m.wav",
                   "--system", "rule_based"])
        seen = {{"system": choice.recipe.system, "rc": rc, "torch": "torch" in sys.modules,
                "data_driven": "vocalmix.mixing.data_driven" in sys.modules}}
        get_mixer("data_driven")
        seen["data_driven_after"] = "vocalmix.mixing.data_driven" in sys.modules
        print(json.dumps(seen))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"system": "rule_based", "rc": 0, "torch": False, "data_driven": False,
                    "data_driven_after": True}


# ------------------------------------------------------------------- analysis once
def test_compression_search_measures_each_threshold_once(monkeypatch):
    vocal, _ = _signals(6.0)
    vocal = vocal * np.linspace(0.1, 1.0, vocal.shape[1], dtype=np.float32)  # a wide range
    measured: list[float] = []
    compress = common.apply_compressor

    def counting(audio, sample_rate, settings):
        measured.append(settings.threshold_db)
        return compress(audio, sample_rate, settings)

    monkeypatch.setattr(common, "apply_compressor", counting)
    threshold, reached, *_ = common.compress_to_range(vocal, SR, 3.0, reverb=None)
    assert threshold is not None and measured
    assert len(measured) == len(set(measured))
