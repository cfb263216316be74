"""Synthetic corruption, the windowed dataset, EQ augmentation, training and the
data-driven mixer -- through the stage entry points, on four short demo songs."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from vocalmix.models.augment import EQResponses, MelEQAugment, correction_shape_db
from vocalmix.corpus import demo
from vocalmix.dsp.corruption import RANGES, corrupt, expand, inverse_eq, random_eq
from vocalmix.measure.mel import LogMel
from vocalmix.models.dataset import ShardedDataset
from vocalmix.models.train import TrainSettings
from vocalmix.measure.spectrum import THIRD_OCTAVE_HZ, long_term_spectrum
from vocalmix.dsp.effects import EQBand, apply_eq, eq_response_db
from vocalmix.audio import read_audio, write_audio
from vocalmix.files import read_json, write_json

SR = 22050
SONGS = (("demo_000", "pop", "train"), ("demo_001", "rock", "train"),
         ("demo_002", "hiphop", "valid"), ("demo_003", "ballad", "test"))
TINY_TRAIN = TrainSettings(max_epochs=2, patience=5, batch_size=4, channels=(4, 8), hidden=16,
                           dropout=0.0, learning_rate=3e-3, device="cpu", eq_augment=0.0)
VOICE = (THIRD_OCTAVE_HZ >= 100) & (THIRD_OCTAVE_HZ <= 10000) & \
    (THIRD_OCTAVE_HZ * 2 ** (1 / 6) < SR / 2)


def pink_noise(rng, n) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return (0.1 * x / np.std(x)).astype(np.float32)[None, :]


# ------------------------------------------------------------------------- corruption
def test_random_eq_stays_in_its_documented_ranges():
    rng = np.random.default_rng(1)
    for _ in range(200):
        bands = random_eq(rng)
        peaks = [b for b in bands if b.type == "peak"]
        shelves = [b for b in bands if b.type != "peak"]
        assert RANGES["peak_bands"][0] <= len(peaks) <= RANGES["peak_bands"][1]
        assert len(shelves) <= 1
        for b in peaks:
            assert RANGES["peak_frequency_hz"][0] <= b.frequency_hz <= RANGES["peak_frequency_hz"][1]
            assert RANGES["peak_gain_db"][0] <= abs(b.gain_db) <= RANGES["peak_gain_db"][1]
            assert RANGES["peak_q"][0] <= b.q <= RANGES["peak_q"][1]
        for b in shelves:
            rng_key = "low_shelf_hz" if b.type == "low_shelf" else "high_shelf_hz"
            assert RANGES[rng_key][0] <= b.frequency_hz <= RANGES[rng_key][1]
            assert RANGES["shelf_gain_db"][0] <= abs(b.gain_db) <= RANGES["shelf_gain_db"][1]


def test_inverse_eq_cancels_the_eq_within_a_tenth_of_a_db():
    rng = np.random.default_rng(2)
    f = THIRD_OCTAVE_HZ[VOICE]
    for _ in range(10):
        eq = random_eq(rng)
        total = eq_response_db(eq + inverse_eq(eq), f, SR)
        assert np.max(np.abs(total)) < 0.1


def test_corruption_parameters_are_recorded_and_applied_exactly(rng):
    x = pink_noise(rng, 4 * SR)
    y, p = corrupt(x, SR, np.random.default_rng(7))
    # rebuilt from the JSON record alone: EQ, expander, gain
    p = json.loads(json.dumps(p))
    z = apply_eq(x, SR, [EQBand.from_dict(b) for b in p["eq"]])
    z = expand(z, SR, **p["expander"]) * np.float32(10 ** (p["gain_db"] / 20))
    np.testing.assert_allclose(z, y, atol=1e-6)
    assert p["normalised_lufs"] == pytest.approx(-23.0)


def test_reapplying_the_recorded_inverse_eq_restores_the_curve_within_half_a_db(rng):
    x = pink_noise(rng, 4 * SR)
    for seed in range(5):
        y, p = corrupt(x, SR, np.random.default_rng(seed))
        restored = apply_eq(y, SR, [EQBand.from_dict(b) for b in p["inverse_eq"]])
        before = long_term_spectrum(x, SR).shape_db
        after = long_term_spectrum(restored, SR).shape_db
        corrupted = long_term_spectrum(y, SR).shape_db
        assert np.max(np.abs(after - before)[VOICE]) < 0.5
        assert np.max(np.abs(corrupted - before)[VOICE]) > 1.0  # the corruption did something


# ---------------------------------------------------------------------- augmentation
def test_mel_domain_eq_swap_matches_the_audio_domain_within_a_db(rng):
    """Swapping a window's EQ on its log-mel gives (nearly) the log-mel of the audio EQ'd
    the new way: the approximation behind the EQ augmentation."""
    song, _ = demo.generate_song("demo_000", "pop", duration_s=4.0, sample_rate=SR, seed=5)
    x = song["dry_vocal"]
    spec = {"sample_rate": SR, "n_fft": 2048, "hop": 1024, "n_mels": 64}
    mel = LogMel(SR, 2048, 1024, 64)
    resp = EQResponses(spec)
    r = np.random.default_rng(3)
    for _ in range(3):
        a, b = random_eq(r), random_eq(r)
        ma, mb = mel(apply_eq(x, SR, a)[0]), mel(apply_eq(x, SR, b)[0])
        swapped = ma + (resp(b)[0] - resp(a)[0])[:, None]
        sings = ma.max(axis=0) > ma.max() - 30  # frames with voice (not the rests)

        def level(m):  # per band, dB of the mean power over the sung frames
            return 10 * np.log10(np.mean(10 ** (m[:, sings] / 10), axis=1))

        loud = level(mb) > level(mb).max() - 40  # bands with voice in them
        err = np.abs(level(swapped) - level(mb))[loud]
        assert np.median(err) < 0.5
        assert np.max(err) < 1.5


def test_augment_swaps_targets_to_the_new_eqs_inverse_shape(rng):
    spec = {"sample_rate": SR, "n_fft": 2048, "hop": 1024, "n_mels": 32}
    recorded = np.zeros((4, 32), np.float32)
    aug = MelEQAugment(spec, recorded, seed=1, probability=1.0, bank_size=8)
    x = rng.normal(-40, 5, size=(4, 2, 32, 10)).astype(np.float32)
    y = np.zeros((4, THIRD_OCTAVE_HZ.size), np.float32)
    x2, y2 = aug(x, y, np.arange(4), vocal_channel=0)
    np.testing.assert_array_equal(x2[:, 1], x[:, 1])  # the backing is untouched
    assert not np.allclose(x2[:, 0], x[:, 0])
    for row in y2:  # each target is one bank entry: a mean-free inverse shape
        assert any(np.allclose(row[VOICE], t[VOICE], atol=1e-5) for t in aug.bank_target)
        assert abs(np.nanmean(row[(THIRD_OCTAVE_HZ >= 100) & (THIRD_OCTAVE_HZ <= 10000)])) < 1e-4


def test_correction_shape_is_mean_free_over_the_voice_bands():
    curve = np.linspace(-6, 6, THIRD_OCTAVE_HZ.size) + 10.0
    shape = correction_shape_db(curve)
    voice = (THIRD_OCTAVE_HZ >= 100) & (THIRD_OCTAVE_HZ <= 10000)
    assert abs(shape[voice].mean()) < 1e-9
    np.testing.assert_allclose(np.diff(shape), np.diff(curve))


# --------------------------------------------------------------- stages on mini corpus
@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """Four 8-s demo songs through features, corruption and dataset (stage entry points)."""
    from vocalmix.stages.corrupt import corrupt
    from vocalmix.stages.dataset import build_dataset
    from vocalmix.stages.features import extract_features

    root = tmp_path_factory.mktemp("mini")
    features = {"window_s": 3.0, "hop_s": 1.0, "gate_lu": -20.0, "min_active_fraction": 0.25,
                "reverb": {"enabled": True, "max_evaluations": 32, "population": 8}}
    rows = []
    for k, (sid, genre, split) in enumerate(SONGS):
        audio, truth = demo.generate_song(sid, genre, duration_s=8.0, sample_rate=SR, seed=k)
        d = root / "audio" / sid
        paths = {}
        for role in ("vocal", "backing", "mixture", "raw_vocal", "dry_vocal", "room_ir"):
            paths[role] = str(d / f"{role}.wav")
            write_audio(paths[role], audio[role], SR)
        write_json(d / "truth.json", truth)
        row = {"track_id": sid, "split": split, "genre": genre, "dataset": "demo",
               "source": "stems", "weight": 1.0, "backing": paths["backing"],
               "vocal": paths["vocal"]}
        extract_features({r: paths[r] for r in ("vocal", "backing", "mixture", "raw_vocal",
                                                "room_ir")},
                         {"features": str(root / "features" / f"{sid}.json"),
                          "windows": str(root / "features" / f"{sid}.windows.tsv")},
                         {"track": row, "sample_rate": SR, "features": features, "seed": 1})
        out = root / "corrupted" / sid
        corrupt({"vocal": paths["vocal"], "dry_vocal": paths["dry_vocal"],
                 "truth": str(d / "truth.json")},
                {"audio": [str(out / f"v{v}.wav") for v in range(2)],
                 "params": [str(out / f"v{v}.json") for v in range(2)],
                 "dereverberated": str(out / "dereverberated.wav")},
                {"track": sid, "seed": 1,
                 "corruption": {"dereverb": True, "note_check": True}})
        rows.append(row)
    build_dataset({"features": [str(root / "features" / f"{s}.json") for s, _, _ in SONGS],
                   "windows": [str(root / "features" / f"{s}.windows.tsv") for s, _, _ in SONGS],
                   "corrupted": [str(root / "corrupted" / s / f"v{v}.wav") for s, _, _ in SONGS
                                 for v in range(2)]},
                  {"dataset": str(root / "dataset")},
                  {"tracks": rows, "sample_rate": SR,
                   "windows": {k: features[k] for k in ("window_s", "hop_s", "gate_lu",
                                                         "min_active_fraction")},
                   "dataset": {"n_mels": 32, "n_fft": 1024, "hop": 512, "shard_size": 16}})
    return {"root": root, "rows": rows, "dataset": root / "dataset"}


def test_corrupt_stage_writes_versions_with_their_parameters(mini):
    d = mini["root"] / "corrupted" / "demo_000"
    p0, p1 = (read_json(d / f"v{v}.json") for v in range(2))
    assert p0["eq"] != p1["eq"]  # versions draw their own EQ
    assert p0["track_id"] == "demo_000" and p0["version"] == 0 and p1["version"] == 1
    for p in (p0, p1):
        assert set(p) >= {"eq", "inverse_eq", "expander", "gain_db", "seed", "dereverb",
                          "wpe_on_dry_notes"}
    x, sr = read_audio(d / "v0.wav")
    assert sr == SR and x.shape[0] == 1
    from vocalmix.measure import loudness

    assert loudness.integrated_loudness(x, SR) == pytest.approx(-23.0, abs=0.1)
    # WPE on the dry vocal: whatever it removes there is signal; it must stay small
    wpe = p0["wpe_on_dry_notes"]
    for kind in ("sustained", "short"):
        if wpe[kind]["n"]:
            assert wpe[kind]["median_db"] > -1.0


def test_corruption_is_seeded_from_the_config(mini, tmp_path):
    from vocalmix.stages.corrupt import corrupt

    d = mini["root"] / "audio" / "demo_000"
    out = {"audio": [str(tmp_path / "v0.wav")], "params": [str(tmp_path / "v0.json")]}
    corrupt({"vocal": str(d / "vocal.wav")}, out,
            {"track": "demo_000", "seed": 1, "corruption": {"dereverb": True}})
    ref = mini["root"] / "corrupted" / "demo_000"
    assert (tmp_path / "v0.wav").read_bytes() == (ref / "v0.wav").read_bytes()
    corrupt({"vocal": str(d / "vocal.wav")}, out,
            {"track": "demo_000", "seed": 2, "corruption": {"dereverb": True}})
    assert (tmp_path / "v0.wav").read_bytes() != (ref / "v0.wav").read_bytes()


def test_corrupt_extra_remakes_a_version_byte_for_byte(mini, tmp_path):
    """The temporary versions (rule corrupt_extra) are remade from the stored dereverberated
    vocal with the same bytes as rule corrupt gives them, so a rebuilt dataset is the same
    without rerunning WPE (issue 19, disk)."""
    from vocalmix.stages.corrupt import corrupt_extra

    ref = mini["root"] / "corrupted" / "demo_001"
    corrupt_extra({"dereverberated": str(ref / "dereverberated.wav")},
                  {"audio": [str(tmp_path / "v1.wav")]},
                  {"track": "demo_001", "seed": 1, "versions": [1]})
    assert (tmp_path / "v1.wav").read_bytes() == (ref / "v1.wav").read_bytes()


def test_dataset_splits_by_track_never_by_window(mini):
    with open(mini["dataset"] / "index.tsv", newline="") as fh:
        index = list(csv.DictReader(fh, delimiter="\t"))
    splits: dict[str, set] = {}
    for r in index:
        splits.setdefault(r["track_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits.values())
    assert {t: s.pop() for t, s in splits.items()} == {s: sp for s, _, sp in SONGS}
    for split in ("train", "valid", "test"):
        ds = ShardedDataset(mini["dataset"], split)
        assert ds.tracks() == sorted(s for s, _, sp in SONGS if sp == split)


def test_dataset_windows_inputs_and_targets(mini):
    desc = read_json(mini["dataset"] / "dataset.json")
    ds = ShardedDataset(mini["dataset"], "train")
    x, y, w = ds[0]
    assert x.shape == (2, 32, desc["input"]["frames"]) and x.dtype == np.float32
    assert np.isfinite(x).all()
    names = desc["targets"]
    assert names[0] == "level_lu" and "lra_lu" in names and "reverb_log_t60" in names
    # windows are read from the shards' frames files as asked for, in any order and any
    # channels: each as it reads alone (tests/unit/test_dataset_frames.py checks the values)
    # (a shard holds whole tracks: these short songs share one; test_dataset_frames.py reads
    # several)
    shards = {r["shard"] for r in ds.index}
    rows = np.random.default_rng(0).permutation(len(ds))[:9]
    for open_files in (ShardedDataset.OPEN_FILES, 1):  # 1: a shard's file closes for the next
        reader = ShardedDataset(mini["dataset"], "train")
        reader.OPEN_FILES = open_files
        for channels in (None, [1], [1, 0]):
            got = reader.inputs(rows, channels)
            for k, i in enumerate(rows):
                want = ds[int(i)][0]
                assert np.array_equal(got[k], want if channels is None else want[channels])
        assert len(reader._files) == min(open_files, len(shards))
    # silent windows carry no level target; others carry the features stage's value
    t = ds.targets_all()
    silent = np.array([r["silent"] == "1" for r in ds.index])
    assert np.isnan(t[silent, 0]).all() and np.isfinite(t[~silent, 0]).all()
    windows = {}
    with open(mini["root"] / "features" / "demo_000.windows.tsv", newline="") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            windows[int(r["window"])] = r
    for r, target in zip(ds.index, t):
        if r["track_id"] == "demo_000" and r["silent"] == "0":
            assert target[0] == pytest.approx(float(windows[int(r["window"])]
                                                    ["vocal_to_backing_lu"]), abs=1e-3)
    # the EQ target: the recorded inverse's shape, mean-free over the voice bands
    rec = read_json(mini["root"] / "corrupted" / "demo_000" / "v1.json")
    expected = correction_shape_db(np.where(
        THIRD_OCTAVE_HZ * 2 ** (1 / 6) <= SR / 2,
        eq_response_db([EQBand.from_dict(b) for b in rec["inverse_eq"]], THIRD_OCTAVE_HZ, SR),
        np.nan))
    row = next(k for k, r in enumerate(ds.index) if r["track_id"] == "demo_000"
               and r["version"] == "1")
    eq = t[row, [names.index(f"eq_{f:.0f}") for f in THIRD_OCTAVE_HZ]]
    np.testing.assert_allclose(eq[VOICE], expected[VOICE], atol=1e-3)
    assert desc["corruption_eq"]["demo_000/1"] == rec["eq"]



def test_streamed_log_mel_is_the_whole_signals_bit_for_bit():
    """The dataset computes log-mels from blocks of audio (bounded memory): the frames are
    exactly LogMel's of the whole signal, whatever the block size, at the ends too."""
    from vocalmix.models.dataset import log_mel_blocks

    rng = np.random.default_rng(4)
    for n_fft, hop in ((1024, 512), (512, 700)):  # the second: hop longer than the frame
        mel = LogMel(SR, n_fft, hop, 32)
        for n in (300, 2 * mel.BLOCK_FRAMES * hop + 123):
            x = (0.1 * rng.standard_normal(n)).astype(np.float32)
            whole = mel(x)
            for block in (777, 1 << 16):
                pieces = list(log_mel_blocks((x[i: i + block] for i in range(0, n, block)),
                                             n, mel))
                assert [f for f, _ in pieces] == list(range(0, whole.shape[1],
                                                            mel.BLOCK_FRAMES))
                assert np.array_equal(np.concatenate([p for _, p in pieces], axis=1), whole)


def test_dataset_windows_are_the_log_mels_of_the_whole_normalised_signals(mini):
    """Built from streamed audio, a window holds the log-mel of the whole corrupted vocal and
    of the whole backing normalised to -23 LUFS, cut at the window's start (float16)."""
    from vocalmix.models.dataset import normalise_level

    desc = read_json(mini["dataset"] / "dataset.json")
    spec = desc["input"]
    mel = LogMel(SR, spec["n_fft"], spec["hop"], spec["n_mels"])
    ds = ShardedDataset(mini["dataset"], "valid")
    backing, _ = read_audio(mini["root"] / "audio" / "demo_002" / "backing.wav")
    b_mel = mel(normalise_level(backing, SR).mean(axis=0))
    checked = 0
    for i, r in enumerate(ds.index):
        vocal, _ = read_audio(mini["root"] / "corrupted" / "demo_002" / f"v{r['version']}.wav")
        v_mel = mel(vocal.mean(axis=0))
        f0 = int(round(float(r["start_s"]) * SR / spec["hop"]))
        f1 = f0 + spec["frames"]
        want = np.stack([v_mel[:, f0:f1], b_mel[:, f0:f1]]).astype(np.float16)
        assert np.array_equal(ds[i][0], want.astype(np.float32))
        checked += 1
    assert checked == desc["counts"]["valid"]["windows"] > 0

@pytest.fixture(scope="module")
def trained(mini, tmp_path_factory):
    from vocalmix.models.nets import TASKS
    from vocalmix.models.train import train_task

    out = tmp_path_factory.mktemp("models")
    metrics = {t: train_task(mini["dataset"], out / t, t, seed=5, settings=TINY_TRAIN)
               for t in TASKS}
    return out, metrics


def test_tiny_model_trains_for_two_epochs_and_its_loss_falls(trained):
    out, metrics = trained
    for task, m in metrics.items():
        with open(out / task / "curve.csv", newline="") as fh:
            curve = list(csv.DictReader(fh))
        assert [int(r["epoch"]) for r in curve] == [1, 2]
        assert float(curve[1]["train_loss"]) < float(curve[0]["train_loss"]), task
        assert (out / task / "curve.png").read_bytes()[:4] == b"\x89PNG"
        saved = read_json(out / task / "metrics.json")
        assert saved["epochs"] == 2 and "test" in saved and saved["device"] == "cpu"


def test_training_is_deterministic_on_the_cpu(mini, trained, tmp_path):
    import torch

    from vocalmix.models.train import train_task

    out, _ = trained
    train_task(mini["dataset"], tmp_path / "eq", "eq", seed=5, settings=TINY_TRAIN)
    a = torch.load(out / "eq" / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "eq" / "model.pt", weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_reads_a_split_in_chunks_with_the_whole_splits_statistics(mini, monkeypatch):
    """The input statistics and the validation loss are computed a chunk of windows at a
    time (bounded memory); they are those of the whole split held at once: the statistics
    to the bit (so training gives the bytes it gave when it held the split)."""
    import torch

    from vocalmix.models import train as tr
    from vocalmix.models.nets import MULTITASK, MixNet, targets_index, task_groups, task_targets

    ds = ShardedDataset(mini["dataset"], "train")
    cols = targets_index(task_targets(MULTITASK))
    for channels in ([1], [1, 0]):  # one channel: numpy sums the array as one run
        split = tr._Split(ds, cols, np.arange(len(ds)), channels)
        whole = np.stack([ds[i][0][channels] for i in range(len(ds))])
        assert whole.dtype == np.float32 and len(split) > 2 * 10  # several chunks below
        with monkeypatch.context() as m:
            m.setattr(tr, "STATS_CHUNK", 7)
            m.setattr(tr, "SUM_LEAF", 5000)  # leaves that end within windows
            mean, std = tr._input_stats(split)
        assert np.array_equal(mean, whole.mean(axis=(0, 2, 3)))
        assert np.array_equal(std, whole.std(axis=(0, 2, 3)) + 1e-6)
    torch.manual_seed(0)
    model = MixNet(len(cols), in_channels=2, n_mels=32, channels=(4,), hidden=8).eval()
    xm, xs = mean[None, :, None, None], std[None, :, None, None]

    def norm_x(x):
        return torch.from_numpy(((x - xm) / xs).astype(np.float32))

    groups = task_groups(MULTITASK)
    with torch.no_grad():
        at_once = float(tr._loss(model(norm_x(whole)), torch.from_numpy(split.y),
                                 torch.from_numpy(split.w), torch, groups))
    monkeypatch.setattr(tr, "EVAL_BATCH", 10)
    assert [len(c) for c in split.chunks()] == [10, len(split) - 10]  # no chunk of 4
    chunked = tr._split_loss(model, split, norm_x, torch.from_numpy, "cpu", torch, groups)
    assert chunked == pytest.approx(at_once, rel=1e-6)


def test_eq_augmentation_changes_what_the_eq_model_sees(mini, trained, tmp_path, caplog):
    import logging

    import torch

    from vocalmix.models.train import train_task

    out, _ = trained
    with caplog.at_level(logging.INFO, logger="vocalmix.models.train"):
        train_task(mini["dataset"], tmp_path / "eq", "eq", seed=5,
                   settings=dataclasses.replace(TINY_TRAIN, eq_augment=1.0))
    assert "EQ augmentation on 100% of the training windows" in caplog.text
    a = torch.load(out / "eq" / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "eq" / "model.pt", weights_only=False)["state_dict"]
    assert not all(torch.equal(a[k], b[k]) for k in a)


def test_vocal_free_models_train_on_one_version_per_window(trained, mini):
    _, metrics = trained
    n_train = len(ShardedDataset(mini["dataset"], "train"))
    assert metrics["eq"]["train_windows"] == n_train  # both versions
    assert metrics["level"]["train_windows"] == n_train // 2  # the backing is the same


def test_unknown_model_input_is_a_clear_error(mini, tmp_path):
    from vocalmix.models.train import train_task

    with pytest.raises(ValueError, match="train.inputs.level: unknown input drums"):
        train_task(mini["dataset"], tmp_path, "level", seed=1,
                   settings=dataclasses.replace(TINY_TRAIN, inputs={"level": ("drums",)}))


def test_song_weighting_gives_every_track_the_same_total_whatever_its_length():
    from vocalmix.models.train import song_weights

    tracks = ["long"] * 12 + ["short"] * 3 + ["half"] * 3
    w = np.array([1.0] * 12 + [1.0] * 3 + [0.5] * 3)
    out = song_weights(w, tracks)
    totals = {t: float(out[[i for i, x in enumerate(tracks) if x == t]].sum()) for t in set(tracks)}
    assert totals["long"] == pytest.approx(totals["short"])  # 6 windows' worth each
    assert totals["long"] == pytest.approx(6.0)
    assert totals["half"] == pytest.approx(0.5 * totals["short"])  # the track weight stays


def test_held_out_training_tracks_are_left_out_and_scored_apart(mini, tmp_path):
    from vocalmix.models.train import train_task

    ds = ShardedDataset(mini["dataset"], "train")
    tracks = sorted(set(ds.tracks()))
    m = train_task(mini["dataset"], tmp_path / "level", "level", seed=1,
                   settings=dataclasses.replace(TINY_TRAIN, window_weighting="song"),
                   holdout_tracks=tracks[:1])
    assert m["holdout"]["track_mae_lu"] >= 0
    full = train_task(mini["dataset"], tmp_path / "all", "level", seed=1, settings=TINY_TRAIN)
    assert m["train_windows"] < full["train_windows"] and "holdout" not in full


def test_unknown_window_weighting_is_an_error():
    from vocalmix.models.train import TrainSettings

    with pytest.raises(ValueError, match="window_weighting"):
        dataclasses.replace(TINY_TRAIN, window_weighting="minute")
    assert TrainSettings().window_weighting == "window"


# ------------------------------------------------------------------ data-driven mixer
def test_eq_from_curve_fits_a_two_filter_curve_within_half_a_db():
    from vocalmix.mixing.data_driven import eq_from_curve

    f = THIRD_OCTAVE_HZ
    true = [EQBand("peak", 400.0, -5.0, 1.41), EQBand("peak", 3150.0, 4.0, 1.41)]
    curve = eq_response_db(true, f, 44100) + 2.0  # a broadband offset is ignored
    bands = eq_from_curve(curve, f, 44100)
    fitted = eq_response_db(bands, f, 44100)
    sel = (f >= 100) & (f <= 10000)
    diff = (fitted - curve)[sel]
    assert np.max(np.abs(diff - diff.mean())) < 0.5


def test_moving_average_is_centred_and_skips_missing_values():
    from vocalmix.mixing.data_driven import moving_average

    v = np.array([[0.0], [np.nan], [3.0], [6.0], [9.0]])
    out = moving_average(v, 3)[:, 0]
    np.testing.assert_allclose(out, [0.0, 1.5, 4.5, 6.0, 7.5])


def test_window_gain_recovers_a_known_offset():
    from vocalmix.mixing.data_driven import window_gain
    from vocalmix.measure import loudness
    from vocalmix.features.extract import window_table

    song, _ = demo.generate_song("demo_002", "hiphop", duration_s=8.0, sample_rate=SR, seed=2)
    v, b = song["vocal"], song["backing"]
    from vocalmix.features.extract import WindowSettings

    win = WindowSettings(window_s=3.0, hop_s=1.0, gate_lu=-20.0, min_active_fraction=0.25)
    rows = window_table(loudness.analyse(v, SR), loudness.analyse(b, SR), loudness.analyse(b, SR),
                        window_s=3.0, hop_s=1.0, gate_lu=-20.0, min_active_fraction=0.25)
    starts = np.array([r["start_s"] for r in rows])
    pred = np.array([np.nan if r["vocal_to_backing_lu"] is None else r["vocal_to_backing_lu"] + 3.0
                     for r in rows])
    gain, info = window_gain(v, b, SR, pred, starts, win)
    assert gain == pytest.approx(3.0, abs=0.01)
    assert info["level_windows"] == int(np.isfinite(pred).sum())


def _assert_reverb_follows_the_predicted_wetness(recipe) -> None:
    """The reverb is the models' input-aware decision (issue 21): a return level for the
    predicted DRR, or none for a take measured as wet as that already."""
    info = recipe.analysis["reverb_level"]
    if recipe.vocal.reverb is None:
        assert info["decision"].startswith("none: the take is already as wet")
        assert info["input_drr_db"] <= info["target_drr_db"] + 1.0
    else:
        assert info["decision"].startswith("return level for the DRR")
        assert info["drr_steps"]


def test_data_driven_mixer_runs_end_to_end_from_checkpoints(trained, mini):
    from vocalmix.mixing.base import MixContext
    from vocalmix.mixing.registry import get_mixer

    out, _ = trained
    d = mini["root"] / "corrupted" / "demo_003"
    vocal, _ = read_audio(d / "v0.wav")
    backing, _ = read_audio(mini["root"] / "audio" / "demo_003" / "backing.wav")
    choice = get_mixer("data_driven").choose(vocal, backing, SR, MixContext(model_dir=out))
    recipe = choice.recipe
    assert recipe.system == "data_driven" and choice.pitch_corrected is None
    a = recipe.analysis
    assert a["models"] == str(out)
    assert a["windows"] == 6 and len(a["level_per_window_lu"]) == 6
    assert np.isfinite(recipe.vocal.gain_db)
    _assert_reverb_follows_the_predicted_wetness(recipe)
    assert all(abs(b.gain_db) <= 12.0 for b in recipe.vocal.eq)
    res = choice.render(vocal, backing, SR)
    assert np.isfinite(res.mix).all() and res.mix.shape[0] == 2


@pytest.mark.slow
def test_data_driven_mixer_takes_a_references_level_and_range(trained, mini):
    """With a reference (the song's own mixture, separated by the pretrained separator) the
    data-driven system keeps its models' EQ and reverb but sets the level to the
    reference's calibrated ratio, over the whole songs, within 0.05 LU."""
    from vocalmix.measure import loudness
    from vocalmix.mixing.base import MixContext
    from vocalmix.mixing.reference import analyse_reference
    from vocalmix.mixing.registry import get_mixer

    out, _ = trained
    a = mini["root"] / "audio" / "demo_003"
    vocal, _ = read_audio(mini["root"] / "corrupted" / "demo_003" / "v0.wav")
    backing, _ = read_audio(a / "backing.wav")
    ref = analyse_reference(a / "mixture.wav", SR)
    assert ref.reliable, ref.reason
    choice = get_mixer("data_driven").choose(vocal, backing, SR,
                                             MixContext(model_dir=out, reference=ref))
    an = choice.recipe.analysis
    assert an["targets_from"] == "reference"
    assert an["target_vocal_to_backing_lu"] == pytest.approx(
        an["reference"]["vocal_to_backing_lu"])
    res = choice.render(vocal, backing, SR)
    ratio = (loudness.integrated_loudness(res.vocal, SR)
             - loudness.integrated_loudness(res.backing, SR))
    assert ratio == pytest.approx(an["target_vocal_to_backing_lu"], abs=0.05)
    _assert_reverb_follows_the_predicted_wetness(choice.recipe)  # the models' decision stays


def test_missing_model_is_a_clear_error(tmp_path):
    from vocalmix.mixing.data_driven import load_models

    with pytest.raises(FileNotFoundError, match="no trained model for level, eq, compression"):
        load_models(tmp_path)


def test_cli_mix_with_the_model_system(trained, mini, tmp_path):
    out, _ = trained
    a = mini["root"] / "audio" / "demo_003"
    cmd = [sys.executable, "-m", "vocalmix", "mix", "--vocal", str(a / "raw_vocal.wav"),
           "--backing", str(a / "backing.wav"), "-o", str(tmp_path / "mix.wav"),
           "--system", "data_driven", "--model", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    mix, sr = read_audio(tmp_path / "mix.wav")
    assert sr == SR and mix.shape[0] == 2 and np.isfinite(mix).all()
    recipe = json.loads((tmp_path / "mix.recipe.json").read_text())
    assert recipe["system"] == "data_driven"
