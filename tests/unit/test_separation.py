"""Source separation: metrics, the builtin separators, the spleeter/demucs refusals and
runners, discovery and ingestion of separated songs, the stage and the CLI."""

from __future__ import annotations

import json
import struct
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from vocalmix.config import validate_config
from vocalmix.separation import builtin, classical, external, metrics
from vocalmix.separation.external import SeparationError
from vocalmix.separation.settings import BuiltinSettings, DemucsSettings, SpleeterSettings
from vocalmix.audio import read_audio

SR = 16000


# ------------------------------------------------------------------ synthetic material
def _voice(n: int, sr: int, rng: np.random.Generator,
           f0s=(330.0, 392.0, 440.0, 494.0)) -> np.ndarray:
    """A 'sung' line: harmonic notes with vibrato and formant-like rolloff, with rests."""
    t = np.arange(n) / sr
    out = np.zeros(n)
    note = int(0.4 * sr)
    for k, start in enumerate(range(0, n - note, int(0.5 * sr))):
        f0 = f0s[int(rng.integers(len(f0s)))] * 2 ** (rng.uniform(-0.5, 0.5) / 12)
        seg = t[start:start + note] - t[start]
        phase = 2 * np.pi * f0 * seg + 0.03 * f0 / 5.5 * np.sin(2 * np.pi * 5.5 * seg)
        tone = sum(np.sin(h * phase) / h ** 1.3 for h in range(1, 9))
        env = np.sin(np.pi * np.arange(note) / note) ** 0.5
        out[start:start + note] += tone * env
    return (0.1 * out).astype(np.float32)


def _backing(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A repeating accompaniment: a bass ostinato and noise clicks every 0.25 s."""
    t = np.arange(n) / sr
    bar = int(1.0 * sr)
    pattern = np.zeros(bar)
    for i, f in enumerate((82.4, 110.0, 98.0, 73.4)):
        seg = np.arange(bar // 4) / sr
        pattern[i * bar // 4:(i + 1) * bar // 4] = np.sin(2 * np.pi * f * seg) * np.exp(-3 * seg)
    bass = np.tile(pattern, n // bar + 1)[:n]
    clicks = np.zeros(n)
    burst = rng.standard_normal(400) * np.exp(-np.arange(400) / 60)
    for s in range(0, n - 400, sr // 4):
        clicks[s:s + 400] += burst
    del t
    return (0.12 * bass + 0.05 * clicks).astype(np.float32)


def _stems(seconds: float, seed: int, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    v = _voice(n, sr, rng)
    b = _backing(n, sr, rng)
    return np.stack([v, 0.9 * v]), np.stack([b, b])


# ------------------------------------------------------------------------------ metrics
def test_sdr_of_a_known_error_is_its_snr(rng):
    s = rng.standard_normal((2, 20000))
    e = rng.standard_normal((2, 20000))
    e *= np.sqrt(0.1 * np.sum(s ** 2) / np.sum(e ** 2))  # error energy = 1/10 of signal
    assert metrics.sdr(s, s + e) == pytest.approx(10.0, abs=1e-6)
    assert metrics.sdr(s, s) > 90.0


def test_si_sdr_ignores_gain_and_sdr_does_not(rng):
    s = rng.standard_normal(30000)
    noise = 0.3 * rng.standard_normal(30000)
    est = s + noise
    assert metrics.si_sdr(s, 0.5 * est) == pytest.approx(metrics.si_sdr(s, est), abs=1e-9)
    assert metrics.sdr(s, 0.5 * est) < metrics.sdr(s, est) - 3.0
    # orthogonal interference of energy ratio r: SI-SDR = -10 log10(r) (projection exact
    # up to the tiny correlation of independent noise)
    expected = 10 * np.log10(np.sum(s ** 2) / np.sum(noise ** 2))
    assert metrics.si_sdr(s, est) == pytest.approx(expected, abs=0.1)


def test_half_mixture_baseline_has_the_mixture_si_sdr():
    v, b = _stems(3.0, 1)
    mix = v + b
    full = metrics.score(v, b, *metrics.baseline_estimates(mix, "mixture"))
    half = metrics.score(v, b, *metrics.baseline_estimates(mix, "half_mixture"))
    assert half["vocal_si_sdr_db"] == pytest.approx(full["vocal_si_sdr_db"], abs=1e-9)
    assert half["vocal_sdr_db"] != pytest.approx(full["vocal_sdr_db"], abs=0.1)


# ------------------------------------------------------------------ classical methods
def test_oracle_mask_and_repet_sim_beat_the_mixture():
    v, b = _stems(8.0, 2)
    mix = v + b
    base = metrics.si_sdr(v, mix)
    vo, bo = classical.oracle_masks(mix, v, b)
    assert metrics.si_sdr(v, vo) > base + 15.0
    np.testing.assert_allclose(vo + bo, mix, atol=1e-5)
    vr, br = classical.repet_sim(mix, SR)
    assert metrics.si_sdr(v, vr) > base + 3.0  # the backing repeats every bar
    assert metrics.si_sdr(b, br) > metrics.si_sdr(b, mix)


# --------------------------------------------------------------- the builtin network
TINY = BuiltinSettings(steps=120, batch_size=8, hidden=32, blocks=2, learning_rate=5e-3,
                       segment_s=0.5)
#: The STFT and the evaluation interval of the tiny network (the project fixes them).
TINY_FIXED = {"n_fft": 512, "hop": 128, "eval_every": 40}


@pytest.fixture(scope="module")
def tiny_model():
    train = [builtin.Stems(f"t{i}", *_stems(4.0, 10 + i)) for i in range(4)]
    valid = [builtin.Stems("v0", *_stems(4.0, 30))]
    ckpt, curve = builtin.train(train, valid, sample_rate=SR, seed=5, settings=TINY,
                                **TINY_FIXED)
    return ckpt, curve


@pytest.mark.slow
def test_builtin_training_is_seeded_and_learns(tiny_model):
    ckpt, curve = tiny_model
    assert [r["step"] for r in curve] == [40, 80, 120]
    assert curve[-1]["valid_loss"] < curve[0]["valid_loss"]
    assert ckpt["selected_on"] == "valid_loss" and ckpt["train_tracks"] == ["t0", "t1", "t2", "t3"]
    train = [builtin.Stems(f"t{i}", *_stems(4.0, 10 + i)) for i in range(4)]
    again, _ = builtin.train(train, [builtin.Stems("v0", *_stems(4.0, 30))], sample_rate=SR,
                             seed=5, settings=replace(TINY, steps=40), **TINY_FIXED)
    # the first 40 steps are the same draws: identical weights to the first checkpoint
    first, _ = builtin.train(train, [builtin.Stems("v0", *_stems(4.0, 30))], sample_rate=SR,
                             seed=5, settings=replace(TINY, steps=40), **TINY_FIXED)
    for k in again["state_dict"]:
        assert np.array_equal(again["state_dict"][k].numpy(), first["state_dict"][k].numpy()), k


def test_builtin_separates_held_out_material(tiny_model, tmp_path):
    ckpt, _ = tiny_model
    builtin.save_model(tmp_path / "sep.pt", ckpt)
    sep = builtin.load_model(tmp_path / "sep.pt")
    v, b = _stems(5.0, 99)  # not seen in training
    mix = v + b
    vocal, backing = sep.separate(mix, SR)
    assert vocal.shape == mix.shape and vocal.dtype == np.float32
    np.testing.assert_allclose(vocal + backing, mix, atol=1e-6)  # the parts sum to the mix
    gain = metrics.si_sdr(v, vocal) - metrics.si_sdr(v, mix)
    assert gain > 3.0, gain


def test_chunked_mask_equals_one_pass(tiny_model):
    import torch

    sep = builtin.BuiltinSeparator(tiny_model[0])
    v, b = _stems(3.0, 7)
    spec = torch.stft(torch.from_numpy(v + b), sep.n_fft, sep.hop, window=sep.window,
                      return_complex=True)
    whole = sep.mask(spec, chunk_frames=10 ** 6)
    chunked = sep.mask(spec, chunk_frames=37)
    assert torch.allclose(whole, chunked, atol=1e-5)


def test_missing_or_foreign_model_is_refused(tmp_path):
    with pytest.raises(SeparationError, match="no builtin separator model"):
        builtin.load_model(tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(SeparationError, match="not a readable separator model"):
        builtin.load_model(tmp_path / "junk.pt")


# ------------------------------------------------------------- spleeter refusal (no TF)
def _fake_tf_checkpoint(d, prefix="model", shards=1, magic=True):
    d.mkdir(parents=True, exist_ok=True)
    (d / "checkpoint").write_text(f'model_checkpoint_path: "{prefix}"\n'
                                  f'all_model_checkpoint_paths: "{prefix}"\n')
    footer = struct.pack("<Q", 0xDB4775248B80FB57) if magic else b"\0" * 8
    (d / f"{prefix}.index").write_bytes(b"\x01" * 64 + footer)
    for i in range(shards):
        (d / f"{prefix}.data-{i:05d}-of-{shards:05d}").write_bytes(b"\x02" * 128)
    (d / ".probe").write_text("OK")


def test_spleeter_refuses_a_missing_or_empty_model_directory(tmp_path):
    with pytest.raises(SeparationError, match="does not exist.*random weights"):
        external.check_spleeter_checkpoint(tmp_path / "2stems")
    (tmp_path / "2stems").mkdir()
    with pytest.raises(SeparationError,
                       match="no 'checkpoint' file.*holds nothing.*random weights"):
        external.check_spleeter_checkpoint(tmp_path / "2stems")
    (tmp_path / "2stems" / ".probe").write_text("OK")  # what spleeter writes after a download
    with pytest.raises(SeparationError, match=r"no 'checkpoint' file; the folder holds \.probe"):
        external.check_spleeter_checkpoint(tmp_path / "2stems")


def test_spleeter_refuses_incomplete_checkpoints(tmp_path):
    d = tmp_path / "2stems"
    _fake_tf_checkpoint(d)
    assert external.check_spleeter_checkpoint(d)["prefix"].endswith("model")
    (d / "model.data-00000-of-00001").unlink()
    with pytest.raises(SeparationError, match="no .data"):
        external.check_spleeter_checkpoint(d)
    _fake_tf_checkpoint(d, shards=2)
    (d / "model.data-00001-of-00002").unlink()
    with pytest.raises(SeparationError, match="model.data-00001-of-00002"):
        external.check_spleeter_checkpoint(d)
    bad = tmp_path / "bad"
    _fake_tf_checkpoint(bad, magic=False)
    with pytest.raises(SeparationError, match="not a TensorFlow checkpoint index"):
        external.check_spleeter_checkpoint(bad)
    (bad / "model.index").unlink()
    with pytest.raises(SeparationError, match="model.index is missing"):
        external.check_spleeter_checkpoint(bad)


def test_spleeter_model_path_comes_from_config_or_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("MODEL_PATH", raising=False)
    monkeypatch.chdir(tmp_path)  # no .venv-spleeter/models here
    with pytest.raises(SeparationError, match="MODEL_PATH"):
        external.spleeter_model_dir("", "2stems")
    (tmp_path / ".venv-spleeter" / "models" / "2stems").mkdir(parents=True)
    assert external.spleeter_model_dir("", "2stems").as_posix() == ".venv-spleeter/models/2stems"
    monkeypatch.setenv("MODEL_PATH", str(tmp_path))
    assert external.spleeter_model_dir("", "4stems") == tmp_path / "4stems"
    assert external.spleeter_model_dir("/x", "2stems").as_posix() == "/x/2stems"


def test_demucs_refuses_missing_weights(tmp_path):
    with pytest.raises(SeparationError, match="no weights folder"):
        external.check_demucs_repo("", "htdemucs")
    with pytest.raises(SeparationError, match="does not exist"):
        external.check_demucs_repo(tmp_path / "none", "htdemucs")
    repo = tmp_path / "repo"
    repo.mkdir()
    with pytest.raises(SeparationError, match="no demucs model 'htdemucs'.*holds nothing"):
        external.check_demucs_repo(repo, "htdemucs")
    (repo / "mybag.yaml").write_text("models: ['955717e8', '5d2d6c55']\n")
    (repo / "955717e8-8726e21a.th").write_bytes(b"PK\x03\x04" + b"\0" * 32)
    with pytest.raises(SeparationError, match="5d2d6c55.th"):
        external.check_demucs_repo(repo, "mybag")
    (repo / "5d2d6c55.th").write_bytes(b"")
    with pytest.raises(SeparationError, match="empty or not a torch archive"):
        external.check_demucs_repo(repo, "mybag")
    (repo / "5d2d6c55.th").write_bytes(b"PK\x03\x04" + b"\0" * 32)
    assert len(external.check_demucs_repo(repo, "mybag")["files"]) == 2


# ---------------------------------------------- runner plumbing, with test-double packages
@pytest.fixture()
def fake_separators(tmp_path, monkeypatch):
    """Importable stand-ins for spleeter and demucs (test doubles of their interfaces: a
    fixed 30/70 split), so the runners and the audio transfer are checked end to end."""
    root = tmp_path / "site"
    (root / "spleeter").mkdir(parents=True)
    (root / "spleeter" / "__init__.py").write_text("")
    (root / "spleeter" / "separator.py").write_text(textwrap.dedent("""
        import os
        class Separator:
            def __init__(self, descriptor, MWF=False, multiprocess=True):
                assert descriptor == "spleeter:2stems" and not MWF and not multiprocess
                assert os.path.isdir(os.path.join(os.environ["MODEL_PATH"], "2stems"))
            def separate(self, waveform):
                assert waveform.ndim == 2 and waveform.shape[1] == 2
                return {"vocals": 0.3 * waveform, "accompaniment": 0.7 * waveform}
    """))
    (root / "demucs").mkdir()
    (root / "demucs" / "__init__.py").write_text("")
    (root / "demucs" / "pretrained.py").write_text(textwrap.dedent("""
        class _Model:
            sources = ["drums", "bass", "other", "vocals"]
            def cpu(self): return self
            def eval(self): return self
        def get_model(name, repo=None):
            assert repo is not None and repo.is_dir()
            return _Model()
    """))
    (root / "demucs" / "apply.py").write_text(textwrap.dedent("""
        import torch
        def apply_model(model, mix, shifts=1, split=True, overlap=0.25, progress=False,
                        device=None):
            w = torch.tensor([0.2, 0.2, 0.3, 0.3]).view(1, 4, 1, 1)
            return w * mix[:, None]
    """))
    monkeypatch.setenv("PYTHONPATH", str(root))
    return root


def test_spleeter_runner_round_trip(tmp_path, fake_separators):
    _fake_tf_checkpoint(tmp_path / "models" / "2stems")
    ramp = np.linspace(-0.5, 0.5, 44100)
    mix = np.stack([ramp, -ramp]).astype(np.float32)
    v, b = external.run_spleeter(mix, 44100, SpleeterSettings(
        model_path=str(tmp_path / "models"), model="2stems", python=sys.executable))
    np.testing.assert_allclose(v, 0.3 * mix, atol=1e-6)
    np.testing.assert_allclose(b, 0.7 * mix, atol=1e-6)


def test_spleeter_runner_is_never_reached_without_a_checkpoint(tmp_path, fake_separators):
    (tmp_path / "models" / "2stems").mkdir(parents=True)
    mix = np.zeros((2, 44100), np.float32)
    with pytest.raises(SeparationError, match="random weights"):
        external.run_spleeter(mix, 44100, SpleeterSettings(model_path=str(tmp_path / "models"),
                                                           python=sys.executable))


@pytest.mark.slow
def test_demucs_runner_round_trip(tmp_path, fake_separators):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "htdemucs.th").write_bytes(b"PK\x03\x04" + b"\0" * 32)
    rng = np.random.default_rng(0)
    mix = (0.1 * rng.standard_normal((1, 22050))).astype(np.float32)  # mono in, mono out
    v, b = external.run_demucs(mix, 44100, DemucsSettings(repo=str(repo), name="htdemucs",
                                                          python=sys.executable))
    assert v.shape == mix.shape
    # demucs standardises the mix and restores it: sources = w * mix + w * mean - ... only
    # the mean (about 0 here) separates them from w * mix
    np.testing.assert_allclose(v, 0.3 * mix, atol=0.01)
    np.testing.assert_allclose(v + b, mix, atol=0.02)


def test_a_missing_backend_environment_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # no spleeter importable
    _fake_tf_checkpoint(tmp_path / "models" / "2stems")
    with pytest.raises(SeparationError, match="spleeter is not importable.*venv-spleeter"):
        external.run_spleeter(np.zeros((2, 4410), np.float32), 44100,
                              SpleeterSettings(model_path=str(tmp_path / "models"),
                                               python=sys.executable))


# ------------------------------------------------------------- discovery and ingestion
def _config(tmp_path, mixes, **sep):
    return validate_config({"datasets": [{"adapter": "demo"}], "demo": {"songs": 4},
                            "commercial_mixes": mixes, "separation": sep, "sample_rate": 16000})


def _song(path, seconds=4.0, seed=0, sr=SR):
    v, b = _stems(seconds, seed, sr)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (v + b).T, sr)
    return path


def test_commercial_mixes_become_separated_candidates(tmp_path):
    from vocalmix.corpus.tracks import CorpusError
    from vocalmix.corpus.adapters import discover

    _song(tmp_path / "songs" / "First Song.wav")
    _song(tmp_path / "songs" / "second.flac", seed=1)
    (tmp_path / "songs" / "notes.txt").write_text("not audio")
    _song(tmp_path / "more" / "a" / "deep.wav", seed=2)
    (tmp_path / "empty").mkdir()
    cfg = _config(tmp_path, [str(tmp_path / "songs"), str(tmp_path / "more/**/*.wav"),
                             {"path": str(tmp_path / "empty"), "genre": "Rock"}])
    cands, rejs = discover(cfg)
    sep = [c for c in cands if c.source == "separated"]
    assert [c.track_id for c in sep] == ["separated_first-song", "separated_second",
                                         "separated_deep"]
    assert {c.split for c in sep} == {"train"} and {c.weight for c in sep} == {0.5}
    first = sep[0]
    assert list(first.files) == ["mixture", "vocal", "backing"]
    assert first.files["vocal"] == ["results/separated/separated_first-song/vocal.wav"]
    assert first.adapter == "separated" and first.origin.endswith("First Song.wav")
    sep_rejs = [r for r in rejs if r.dataset == "separated"]
    assert len(sep_rejs) == 1 and sep_rejs[0].file == str(tmp_path / "empty")
    assert sep_rejs[0].reason.startswith("no audio file")
    auto = discover(_config(tmp_path, [str(tmp_path / "songs")] * 1, split="auto",
                            train_weight=0.2))[0]
    assert {c.weight for c in auto if c.source == "separated"} == {0.2}
    with pytest.raises(CorpusError, match="not a file, a folder or a glob"):
        discover(_config(tmp_path, [str(tmp_path / "nowhere")]))


def test_ingestion_of_a_separated_track(tmp_path, monkeypatch):
    from vocalmix.corpus.tracks import TrackRejected
    from vocalmix.corpus.ingest import ingest_track
    from vocalmix.corpus.separated import discover_mixes

    monkeypatch.chdir(tmp_path)
    _song(tmp_path / "songs" / "tune.wav")
    _song(tmp_path / "songs" / "broken.wav")
    (tmp_path / "songs" / "broken.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    cfg = _config(tmp_path, ["songs"])
    cands, _ = discover_mixes(cfg)
    good = next(c for c in cands if c.track_id == "separated_tune")
    v, b = _stems(4.0, 0)
    for role, x in (("vocal", v), ("backing", b)):
        path = tmp_path / good.files[role][0]
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, x.T, SR, subtype="FLOAT")
    row = ingest_track(good, str(tmp_path / "audio"), cfg)
    assert (row["source"], row["adapter"], row["split"], row["weight"]) == (
        "separated", "separated", "train", 0.5)
    assert row["duration_s"] == pytest.approx(4.0)
    broken = next(c for c in cands if c.track_id == "separated_broken")
    with pytest.raises(TrackRejected) as exc:
        ingest_track(broken, str(tmp_path / "audio"), cfg)
    assert exc.value.file.endswith("broken.wav") and "not readable as audio" in exc.value.reason


# ----------------------------------------------------------------- the stage and the CLI
def test_separate_stage_writes_stems_and_report(tmp_path):
    from vocalmix.stages.separate import separate

    song = _song(tmp_path / "song.wav", seconds=6.0)
    out = {k: str(tmp_path / "out" / f) for k, f in
           (("vocal", "vocal.wav"), ("backing", "backing.wav"), ("report", "report.json"))}
    params = {"track": "separated_song", "sample_rate": SR,
              "separation": {"backend": "builtin", "builtin": {"method": "repet_sim"}}}
    separate({"mix": str(song)}, out, params)
    v, _ = read_audio(out["vocal"])
    b, _ = read_audio(out["backing"])
    mix, _ = read_audio(song)
    np.testing.assert_allclose(v + b, mix, atol=1e-4)
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["status"] == "ok" and rep["ground_truth"] is False
    assert rep["run"]["method"] == "repet_sim" and rep["duration_s"] == pytest.approx(6.0)
    assert 0.0 < rep["vocal_energy_share"] < 1.0
    # an unreadable song: empty stems and the problem in the report, no exception
    (tmp_path / "bad.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    separate({"mix": str(tmp_path / "bad.wav")}, out, params)
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["status"] == "unreadable" and "bad.wav" in rep["problem"]
    assert sf.info(out["vocal"]).frames == 0


def test_separate_stage_refuses_spleeter_without_checkpoint(tmp_path):
    from vocalmix.stages.separate import separate

    song = _song(tmp_path / "song.wav")
    (tmp_path / "models" / "2stems").mkdir(parents=True)
    out = {k: str(tmp_path / "out" / f"{k}.x") for k in ("vocal", "backing", "report")}
    with pytest.raises(SeparationError, match="random weights"):
        separate({"mix": str(song)}, out,
                 {"track": "separated_song", "sample_rate": SR,
                  "separation": {"backend": "spleeter",
                                 "spleeter": {"model_path": str(tmp_path / "models"),
                                              "model": "2stems", "python": "auto"}}})
    assert not (tmp_path / "out").exists()  # refused before any output


def test_cli_separate(tmp_path, capsys, tiny_model):
    from vocalmix.cli import main

    song = _song(tmp_path / "song.flac", seconds=5.0)
    builtin.save_model(tmp_path / "sep.pt", tiny_model[0])
    assert main(["separate", str(song), "-o", str(tmp_path / "net"), "--model",
                 str(tmp_path / "sep.pt")]) == 0
    report = json.loads((tmp_path / "net" / "report.json").read_text())
    assert report["run"]["method"] == "network" and report["run"]["trained_on"] == 4
    v, sr = sf.read(tmp_path / "net" / "vocal.wav")
    assert sr == SR and v.shape == sf.read(song)[0].shape
    assert main(["separate", str(song), "-o", str(tmp_path / "parts"), "--method",
                 "repet_sim"]) == 0
    assert "vocal" in capsys.readouterr().out
    v = sf.read(tmp_path / "parts" / "vocal.wav")[0]
    b = sf.read(tmp_path / "parts" / "backing.wav")[0]
    mix = sf.read(song)[0]
    np.testing.assert_allclose(v + b, mix, atol=1e-4)
    (tmp_path / "m" / "2stems").mkdir(parents=True)
    assert main(["separate", str(song), "-o", str(tmp_path / "x"), "--backend", "spleeter",
                 "--model-path", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "no TensorFlow checkpoint" in err and "random weights" in err
    assert main(["separate", str(song), "-o", str(tmp_path / "x"), "--model",
                 str(tmp_path / "none.pt")]) == 2
    assert "no builtin separator model" in capsys.readouterr().err
