"""The effect chain, the recipe, the rule-based and preset mixers, pitch correction, key and
tempo analysis, and ``vocalmix mix`` on odd inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from vocalmix.corpus import demo
from vocalmix.measure import loudness
from vocalmix.measure.key import detect_key
from vocalmix.measure.pitch import hz_to_midi, midi_to_hz, raw_pitch_accuracy, track_pitch
from vocalmix.measure.tempo import estimate_tempo
from vocalmix.dsp import chain
from vocalmix.dsp.effects import CompressorSettings, EQBand
from vocalmix.dsp.pitch import correct_pitch, snap
from vocalmix.mixing.base import MixContext
from vocalmix.mixing.registry import get_mixer
from vocalmix.mixing.preset import PRESET_BALANCE_LU
from vocalmix.dsp.recipe import BackingRecipe, BusRecipe, MixRecipe, PitchCorrection, VocalRecipe
from vocalmix.dsp.reverb import ReverbSettings
from vocalmix.mixing.rule_based import RuleSettings, masking_eq, masking_measure_db
from vocalmix.audio import read_audio, resample, write_audio

SR = 44100


@pytest.fixture(scope="module")
def song():
    audio, truth = demo.generate_song("demo_001", "rock", duration_s=12.0, sample_rate=SR, seed=3)
    return audio, truth


def full_recipe() -> MixRecipe:
    return MixRecipe(
        system="manual",
        vocal=VocalRecipe(
            highpass_hz=90.0, eq=(EQBand("peak", 3000.0, 2.5, 1.0),),
            compressor=CompressorSettings(-24.0, 4.0, 7.5, 400.0), gain_db=3.0,
            reverb=ReverbSettings(room_size=0.4, wet_db=-14.0, predelay_ms=25.0),
            pitch_correction=PitchCorrection(key="A", mode="minor", strength=0.8,
                                             retune_ms=50.0)),
        backing=BackingRecipe(eq=(EQBand("peak", 1000.0, -3.0, 1.41),), gain_db=-1.0),
        bus=BusRecipe(ceiling_dbtp=-1.0, limiter_release_ms=80.0))


# ----------------------------------------------------------------------------- recipe
def test_recipe_round_trips_through_json_with_units_in_names(tmp_path):
    r = full_recipe()
    path = tmp_path / "r.json"
    r.save(path)
    text = path.read_text()
    for name in ("highpass_hz", "frequency_hz", "gain_db", "threshold_db", "attack_ms",
                 "release_ms", "predelay_ms", "wet_db", "ceiling_dbtp", "retune_ms"):
        assert f'"{name}"' in text
    assert MixRecipe.load(path) == r


def test_bad_recipes_are_clear_errors(tmp_path):
    d = full_recipe().to_dict()
    d["vocal"]["compressor"]["ratio"] = 0.5
    with pytest.raises(ValueError, match="ratio must be in"):
        MixRecipe.from_dict(d)
    with pytest.raises(ValueError, match="unknown recipe key"):
        MixRecipe.from_dict({**full_recipe().to_dict(), "volume": 3})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        MixRecipe.load(tmp_path / "bad.json")


# ----------------------------------------------------------------------------- chain
def test_chain_is_deterministic_and_keeps_the_ceiling(song):
    audio, _ = song
    v, b = audio["raw_vocal"], audio["backing"]
    r = MixRecipe(system="manual",
                  vocal=VocalRecipe(gain_db=30.0, reverb=ReverbSettings(wet_db=-10.0)),
                  backing=BackingRecipe(gain_db=12.0))
    a = chain.render(v, b, SR, r)
    bb = chain.render(v, b, SR, r)
    assert np.array_equal(a.mix, bb.mix) and a.mix.shape == (2, b.shape[1])
    assert a.report["bus"]["true_peak_before_dbtp"] > 0  # hot: the limiter had work to do
    assert loudness.true_peak_dbtp(a.mix, SR) <= -1.0 + 1e-3


def test_chain_leaves_a_quiet_sum_alone_and_gain_is_exact(song):
    audio, _ = song
    v, b = audio["raw_vocal"], audio["backing"]
    r = MixRecipe(system="manual", vocal=VocalRecipe(highpass_hz=None, gain_db=0.0))
    res = chain.render(v, b, SR, r)
    assert not res.report["bus"]["limited"]
    np.testing.assert_allclose(res.mix, res.vocal + res.backing, atol=1e-7)
    np.testing.assert_allclose(res.vocal[0], v[0], atol=1e-7)
    louder = chain.render(v, b, SR, MixRecipe(system="manual",
                                              vocal=VocalRecipe(highpass_hz=None, gain_db=6.0)))
    gain = loudness.integrated_loudness(louder.vocal, SR) - loudness.integrated_loudness(
        res.vocal, SR)
    assert gain == pytest.approx(6.0, abs=1e-3)


# ----------------------------------------------------------------------------- rule-based
STATS = {"rock": {"vocal_to_backing_lu": -1.0, "vocal_lra_lu": 5.0, "n_tracks": 3},
         "all": {"vocal_to_backing_lu": 1.5, "vocal_lra_lu": 6.0, "n_tracks": 9}}


def _rule_based(v, b, **context):
    return get_mixer("rule_based").choose(v, b, SR, MixContext(**context)).recipe


def _render_and_measure(recipe, v, b, corrected=None):
    res = chain.render(v, b, SR, recipe, pitch_corrected=corrected)
    ratio = (loudness.integrated_loudness(res.vocal, SR)
             - loudness.integrated_loudness(res.backing, SR))
    return res, ratio, loudness.loudness_range(res.vocal, SR)


def test_rule_based_hits_the_genre_level_and_loudness_range(song):
    audio, _ = song
    v, b = audio["raw_vocal"], audio["backing"]
    assert loudness.loudness_range(v, SR) > 6.0  # the amateur take is wider than the target
    recipe = _rule_based(v, b, genre_stats={**STATS, "rock": {**STATS["rock"],
                                                              "row_source": "real"}},
                         genre="rock")
    assert recipe.analysis["genre_stats_row"] == "rock"
    assert recipe.analysis["genre_row_source"] == "real"
    _, ratio, lra = _render_and_measure(recipe, v, b)
    assert ratio == pytest.approx(-1.0, abs=0.5)
    assert lra == pytest.approx(5.0, abs=0.5)
    assert recipe.analysis["lra_reachable"]
    assert recipe.vocal.compressor is not None
    assert (recipe.vocal.compressor.ratio, recipe.vocal.compressor.attack_ms,
            recipe.vocal.compressor.release_ms) == (4.0, 7.5, 400.0)


def test_unknown_genre_uses_the_overall_median(song):
    audio, _ = song
    v, b = audio["raw_vocal"], audio["backing"]
    recipe = _rule_based(v, b, genre_stats=STATS, genre="polka")
    assert recipe.analysis["genre_stats_row"] == "all"
    assert recipe.analysis["genre_row_source"] == "corpus"  # a table without row_source
    _, ratio, _ = _render_and_measure(recipe, v, b)
    assert ratio == pytest.approx(1.5, abs=0.5)


def test_unreachable_loudness_range_is_the_closest_with_a_warning(song, caplog):
    audio, _ = song
    v, b = audio["raw_vocal"], audio["backing"]
    stats = {"all": {"vocal_to_backing_lu": 0.0, "vocal_lra_lu": 30.0}}
    recipe = _rule_based(v, b, genre_stats=stats)
    assert recipe.vocal.compressor is None  # compression cannot widen the range
    assert not recipe.analysis["lra_reachable"]
    assert "not reachable" in caplog.text


def test_reverb_rules_follow_tempo(song):
    audio, truth = song
    recipe = _rule_based(audio["raw_vocal"], audio["backing"], genre_stats=STATS)
    rules = recipe.analysis["reverb_rules"]
    ratio = rules["tempo_bpm"] / truth["tempo_bpm"]  # the beat, or its half/double level
    assert min(abs(ratio - r) / r for r in (0.5, 1.0, 2.0)) < 0.04
    beat = 60.0 / rules["tempo_bpm"]
    assert recipe.vocal.reverb.predelay_ms == pytest.approx(1000 * beat / 16, rel=0.05)
    assert rules["target_t60_s"] == pytest.approx(2 * beat, rel=0.05)


def test_masking_reduction_cuts_the_masker_and_the_measure_drops(rng):
    n = 6 * SR
    t = np.arange(n) / SR
    # vocal: a voice-like harmonic tone, strongest at 500 Hz - 1 kHz
    vocal = sum(np.sin(2 * np.pi * f * t) * a for f, a in ((500, 1.0), (1000, 0.9),
                                                            (2000, 0.3), (250, 0.5)))
    vocal = 0.05 * vocal[None, :]
    # backing: strong lows, and a loud 1 kHz part that is not among its own strongest bands
    backing = (0.5 * np.sin(2 * np.pi * 62.5 * t) + 0.45 * np.sin(2 * np.pi * 125 * t)
               + 0.3 * np.sin(2 * np.pi * 250 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t)
               + 0.001 * rng.standard_normal(n))[None, :].repeat(2, axis=0)
    s = RuleSettings()
    v_cuts, b_cuts, decisions = masking_eq(vocal, backing, SR, s)
    cut_bands = [c.frequency_hz for c in b_cuts]
    assert 1000.0 in cut_bands and v_cuts == []
    assert 62.5 not in cut_bands and 125.0 not in cut_bands  # the masker's own strongest
    assert all(-s.eq_max_cut_db <= c.gain_db < 0 and c.q == s.eq_q for c in b_cuts)
    assert {d["masker"] for d in decisions} == {"backing"}
    before = masking_measure_db(vocal, backing, SR)
    cut = chain.process_backing(backing, SR, MixRecipe(system="x",
                                                       backing=BackingRecipe(eq=tuple(b_cuts))))
    assert masking_measure_db(vocal, cut, SR) < before - 2.0


def test_preset_is_fixed_and_balanced(song):
    audio, _ = song
    v, b = audio["raw_vocal"], audio["backing"]
    recipe = get_mixer("preset").choose(v, b, SR, MixContext()).recipe
    assert recipe.system == "preset" and recipe.vocal.eq[1].gain_db == 3.0
    _, ratio, _ = _render_and_measure(recipe, v, b)
    assert ratio == pytest.approx(PRESET_BALANCE_LU, abs=0.5)


# ----------------------------------------------------------------------------- pitch
def _detuned_melody(rng, seconds=8.0):
    """Notes of C major, each sung 25-45 cents off, with 5.5 Hz vibrato."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    notes = rng.choice([60, 62, 64, 65, 67, 69, 71, 72], size=int(seconds / 0.5))
    offsets = rng.choice([-1, 1], size=notes.size) * rng.uniform(25, 45, size=notes.size)
    midi = np.repeat(notes + offsets / 100.0, int(0.5 * SR))[:n]
    midi = midi + 0.2 * np.sin(2 * np.pi * 5.5 * t)
    phase = 2 * np.pi * np.cumsum(midi_to_hz(midi)) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 10))
    return (0.1 * x)[None, :].astype(np.float32), notes, offsets


def _note_deviation_cents(x, pcs, note_s=0.5):
    track = track_pitch(x, SR)
    devs = []
    for k in range(int(x.shape[1] / SR / note_s)):
        sel = (track.times_s > k * note_s + 0.15) & (track.times_s < (k + 1) * note_s - 0.1)
        m = np.median(hz_to_midi(track.f0_hz[sel]))
        devs.append(abs(m - snap(np.array([m]), pcs)[0]) * 100)
    return float(np.mean(devs))


def test_pitch_correction_moves_detuned_notes_onto_the_scale(rng):
    x, notes, offsets = _detuned_melody(rng)
    pc = PitchCorrection(key="C", mode="major", strength=1.0, retune_ms=40.0)
    before = _note_deviation_cents(x, pc.pitch_classes)
    y, report = correct_pitch(x, SR, pc)
    after = _note_deviation_cents(y, pc.pitch_classes)
    assert before > 20 and after < 0.2 * before  # at least 80 % closer to the scale
    assert y.shape == x.shape
    # the vibrato survives: the note is moved, not flattened
    track = track_pitch(y, SR)
    sel = (track.times_s > 1.15) & (track.times_s < 1.4)
    assert np.std(hz_to_midi(track.f0_hz[sel])) * 100 > 5


@pytest.mark.slow
def test_pitch_correction_on_demo_amateur_takes():
    """Demo amateur takes: note pitch (score notes' middles) >= 80 % closer to the scale."""
    reductions = []
    for i, genre in enumerate(("pop", "ballad")):
        audio, truth = demo.generate_song(f"demo_{i:03d}", genre, duration_s=15.0,
                                          sample_rate=SR, seed=8)
        key = detect_key(audio["backing"], SR)
        pc = PitchCorrection(key=key.key, mode=key.mode)
        y, _ = correct_pitch(audio["raw_vocal"], SR, pc)

        def dev(x):
            track = track_pitch(x, SR)
            out = []
            for note in truth["notes"]:
                if note["duration_s"] < 0.25:
                    continue
                sel = ((track.times_s > note["onset_s"] + 0.25 * note["duration_s"])
                       & (track.times_s < note["onset_s"] + 0.75 * note["duration_s"])
                       & track.voiced)
                m = np.median(hz_to_midi(track.f0_hz[sel]))
                out.append(abs(m - snap(np.array([m]), pc.pitch_classes)[0]) * 100)
            return np.mean(out)

        reductions.append(1 - dev(y) / dev(audio["raw_vocal"]))
    assert min(reductions) >= 0.8, reductions


# ----------------------------------------------------------------------------- key, tempo
def test_key_of_a_chord_progression_with_drums(rng):
    n = 12 * SR
    t = np.arange(n) / SR
    x = np.zeros(n)
    chords = [(67, 71, 74), (60, 64, 67), (62, 66, 69), (67, 71, 74)]  # G C D G
    for k, chord in enumerate(chords * 3):
        a, b = k * SR, (k + 1) * SR
        for m in chord:
            f = midi_to_hz(m)
            x[a:b] += sum(np.sin(2 * np.pi * h * f * t[a:b]) / h for h in range(1, 6))
    x += 2.0 * rng.standard_normal(n) * (np.mod(t, 0.25) < 0.03)  # hats
    key = detect_key(x[None, :] * 0.05, SR)
    assert key.scale == frozenset({7, 9, 11, 0, 2, 4, 6})  # G major (= E minor) scale


@pytest.mark.parametrize("bpm", [84.0, 126.0])
def test_tempo_of_a_drum_loop(rng, bpm):
    n = 20 * SR
    x = np.zeros(n)
    beat = 60.0 / bpm
    for k in range(int(20 / beat)):
        i = int(k * beat * SR)
        m = min(n - i, 4000)
        x[i:i + m] += rng.standard_normal(m) * np.exp(-np.arange(m) / 400) * (1.0 if k % 2 else 0.6)
    tempo, conf = estimate_tempo(x[None, :], SR)
    assert tempo == pytest.approx(bpm, rel=0.02)


@pytest.mark.realdata
@pytest.mark.slow
def test_f0_tracker_raw_pitch_accuracy_on_mir1k(real_data):
    root = real_data / "mir1k"
    hits = total = 0
    for wav in sorted((root / "Wavfile").glob("*.wav")):
        x, sr = read_audio(wav)
        labels = np.loadtxt(root / "PitchLabel" / f"{wav.stem}.pv")
        ref = np.where(labels > 0, midi_to_hz(labels), 0.0)
        est = track_pitch(x[1:], sr).f0_at(0.02 + 0.02 * np.arange(labels.size))
        voiced = ref > 0
        hits += raw_pitch_accuracy(ref, est) * voiced.sum()
        total += voiced.sum()
    assert total > 40000
    assert hits / total >= 0.90


# ----------------------------------------------------------------------------- CLI
def _cli(*args):
    # from an empty directory: no results/genre/model.json of a local run changes the
    # genre the mixer uses (the default --genre-model is looked up in the working directory)
    import tempfile

    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run([sys.executable, "-m", "vocalmix", "mix", *args],
                              capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def files(tmp_path_factory, song):
    audio, _ = song
    d = tmp_path_factory.mktemp("mixcli")
    write_audio(d / "vocal_mono.wav", audio["raw_vocal"], SR)
    write_audio(d / "backing.wav", audio["backing"], SR)
    write_audio(d / "vocal_22k_short.wav",
                   resample(audio["raw_vocal"][:, : 9 * SR], orig_sample_rate=SR,
                               target_sample_rate=22050), 22050)
    write_audio(d / "silent.wav", np.zeros((1, SR * 5), dtype=np.float32), SR)
    (d / "broken.wav").write_bytes(b"RIFF0000WAVEnope")
    return d


@pytest.mark.slow
def test_cli_mono_vocal_into_stereo_backing(files):
    out = _cli("--vocal", str(files / "vocal_mono.wav"), "--backing", str(files / "backing.wav"),
               "-o", str(files / "mix.wav"), "--genre", "rock")
    assert out.returncode == 0, out.stderr
    mix, sr = read_audio(files / "mix.wav")
    assert mix.shape == (2, 12 * SR) and sr == SR
    assert loudness.true_peak_dbtp(mix, SR) <= -1.0 + 0.01
    recipe = json.loads((files / "mix.recipe.json").read_text())
    assert recipe["system"] == "rule_based" and recipe["analysis"]["genre_stats_row"] == "rock"


@pytest.mark.slow
def test_cli_other_rate_and_length_are_reconciled_with_warnings(files):
    out = _cli("--vocal", str(files / "vocal_22k_short.wav"), "--backing",
               str(files / "backing.wav"), "-o", str(files / "mix2.wav"), "--system", "preset")
    assert out.returncode == 0, out.stderr
    assert "22050 Hz resampled" in out.stderr and "padded with silence" in out.stderr
    mix, _ = read_audio(files / "mix2.wav")
    assert mix.shape == (2, 12 * SR)


@pytest.mark.slow
def test_cli_recipe_in_renders_a_tweaked_recipe(files):
    base = files / "mix.recipe.json"
    recipe = json.loads(base.read_text())
    recipe["vocal"]["gain_db"] += 4.0
    tweaked = files / "tweaked.json"
    tweaked.write_text(json.dumps(recipe))
    out = _cli("--vocal", str(files / "vocal_mono.wav"), "--backing", str(files / "backing.wav"),
               "-o", str(files / "mix3.wav"), "--recipe-in", str(tweaked),
               "--recipe-out", str(files / "mix3.json"))
    assert out.returncode == 0, out.stderr
    first = float(out.stdout.split("vocal-to-backing ratio ")[1].split(" LU")[0])
    orig = _cli("--vocal", str(files / "vocal_mono.wav"), "--backing", str(files / "backing.wav"),
                "-o", str(files / "mix4.wav"), "--recipe-in", str(base))
    second = float(orig.stdout.split("vocal-to-backing ratio ")[1].split(" LU")[0])
    assert first - second == pytest.approx(4.0, abs=0.05)


@pytest.mark.parametrize("vocal,message", [("broken.wav", "broken.wav: not readable"),
                                           ("silent.wav", "silent.wav: the audio is silent"),
                                           ("missing.wav", "missing.wav: file does not exist")])
def test_cli_bad_inputs_are_clear_errors(files, vocal, message):
    out = _cli("--vocal", str(files / vocal), "--backing", str(files / "backing.wav"),
               "-o", str(files / "x.wav"))
    assert out.returncode == 2 and message in out.stderr


def test_cli_unknown_genre_lists_the_known_ones(files):
    out = _cli("--vocal", str(files / "vocal_mono.wav"), "--backing", str(files / "backing.wav"),
               "-o", str(files / "x.wav"), "--genre", "polka")
    assert out.returncode == 2
    assert "unknown genre 'polka'" in out.stderr and "rock" in out.stderr and "pop" in out.stderr


def test_cli_help_explains_every_option():
    out = subprocess.run([sys.executable, "-m", "vocalmix", "mix", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for opt in ("--vocal", "--backing", "--output", "--system", "--model", "--genre",
                "--pitch-correct", "--recipe-out", "--recipe-in", "--genre-stats"):
        assert opt in out
