"""Known answers of the separation-bias measure (vocalmix.separation.bias)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vocalmix.separation import bias

RATE = 44100


def _wet_vocal(rng: np.random.Generator, seconds: float = 16.0) -> np.ndarray:
    """A harmonic 'voice' of 0.5-s notes and 0.5-s rests, 4-s phrases alternately loud and
    12 dB softer (a loudness range of 12 LU), through a room (T60 0.6 s, reverberation about
    7 dB under the direct sound): stereo."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    tone = sum(np.sin(2 * np.pi * 220.0 * k * t) / k for k in range(1, 25))
    gate = ((t % 1.0) < 0.5).astype(float)
    ramp = int(0.005 * RATE)  # 5-ms note edges
    gate = np.convolve(gate, np.ones(ramp) / ramp, mode="same")
    phrase = np.where((t // 4.0) % 2 == 0, 1.0, 10 ** (-12 / 20))
    dry = 0.1 * tone * gate * phrase
    ir_t = np.arange(int(0.8 * RATE)) / RATE
    ir = 0.01 * rng.standard_normal((2, ir_t.size)) * 10 ** (-3 * ir_t / 0.6)
    ir[:, 0] = 1.0
    size = 1 << int(np.ceil(np.log2(n + ir_t.size)))
    wet = np.fft.irfft(np.fft.rfft(dry, size) * np.fft.rfft(ir, size, axis=1), size,
                       axis=1)[:, :n]
    return wet.astype(np.float32)


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    vocal = _wet_vocal(rng)
    backing = (0.05 * rng.standard_normal(vocal.shape)).astype(np.float32)  # steady
    return vocal, backing


@pytest.fixture(scope="module")
def truth(pair) -> dict:
    return bias.target_values(*pair, RATE)


def test_targets_are_all_measured(truth):
    assert list(truth) == list(bias.TARGETS)
    assert all(math.isfinite(v) for v in truth.values()), truth
    assert truth["vocal_lra_lu"] > 6.0  # the 12-dB phrases
    assert 0.3 < truth["vocal_t60_s"] < 1.2  # the room's 0.6 s, blind
    # the tonal balance has its power mean removed
    eq = np.array([truth[t] for t in bias.EQ_TARGETS])
    assert 10 * np.log10(np.mean(10 ** (eq / 10))) == pytest.approx(0.0, abs=1e-9)


def test_identical_pairs_have_no_bias(pair):
    row = bias.bias_row(pair, pair, RATE)
    assert list(row) == list(bias.ROW_COLUMNS)
    for t in bias.TARGETS:
        assert row[f"bias_{t}"] == 0.0, t
        assert row[f"true_{t}"] == row[f"est_{t}"]
    assert row[bias.EQ_RMS] == 0.0


def test_vocal_3_db_down_is_a_3_lu_ratio_bias_and_nothing_else(pair):
    vocal, backing = pair
    quieter = vocal * np.float32(10 ** (-3 / 20))
    row = bias.bias_row(pair, (quieter, backing), RATE)
    assert row["bias_vocal_to_backing_lu"] == pytest.approx(-3.0, abs=0.05)
    assert row["bias_vocal_lra_lu"] == pytest.approx(0.0, abs=0.05)
    for t in bias.EQ_TARGETS:
        assert row[f"bias_{t}"] == pytest.approx(0.0, abs=0.01), t
    assert row[bias.EQ_RMS] < 0.01
    assert row["bias_vocal_drr_db"] == pytest.approx(0.0, abs=0.05)
    assert row["bias_vocal_t60_s"] == pytest.approx(0.0, abs=0.01)


def test_backing_leaking_into_the_vocal_raises_the_ratio_and_narrows_the_range(pair):
    """A constant leak of the steady backing (-20 dB) fills the soft phrases and the rests:
    the vocal reads louder against a backing that lost it, and less dynamic."""
    vocal, backing = pair
    leak = np.float32(10 ** (-20 / 20)) * backing
    row = bias.bias_row(pair, (vocal + leak, backing - leak), RATE)
    assert row["bias_vocal_to_backing_lu"] > 0.5
    assert row["bias_vocal_lra_lu"] < -0.3
    assert row[bias.EQ_RMS] > 1.0  # white noise fills the bands the voice leaves empty
    # a louder leak moves both further
    louder = np.float32(10 ** (-12 / 20)) * backing
    row2 = bias.bias_row(pair, (vocal + louder, backing - louder), RATE)
    assert row2["bias_vocal_to_backing_lu"] > row["bias_vocal_to_backing_lu"]
    assert row2["bias_vocal_lra_lu"] < row["bias_vocal_lra_lu"]


def _row(dataset: str, split: str, vbr_bias: float, eq_rms: float = 1.0) -> dict:
    row = {c: 0.0 for c in bias.ROW_COLUMNS}
    row.update(dataset=dataset, split=split, true_vocal_to_backing_lu=-2.0,
               est_vocal_to_backing_lu=-2.0 + vbr_bias, bias_vocal_to_backing_lu=vbr_bias)
    row[bias.EQ_RMS] = eq_rms
    return row


def test_summary_counts_and_moments_per_group():
    rows = [_row("demo", "train", -4.0, 2.0), _row("demo", "test", -6.0, 4.0),
            _row("demo", "train", 1.0), _row("musdb", "test", -0.5)]
    rows[2]["bias_vocal_t60_s"] = math.nan  # no decay found: left out of that target only
    out = bias.summarise_bias(rows)
    assert [r["dataset"] for r in out] == ["demo"] * len(bias.BIAS_MEASURES) + \
        ["musdb"] * len(bias.BIAS_MEASURES)
    by = {(r["dataset"], r["target"]): r for r in out}
    vbr = by["demo", "vocal_to_backing_lu"]
    assert vbr["n_tracks"] == 3
    assert vbr["mean_bias"] == pytest.approx(-3.0)
    assert vbr["sd_bias"] == pytest.approx(np.std([-4.0, -6.0, 1.0], ddof=1))
    assert vbr["mean_abs_bias"] == pytest.approx(11.0 / 3)
    assert vbr["mean_true"] == pytest.approx(-2.0)
    assert vbr["mean_est"] == pytest.approx(-5.0)
    assert by["demo", "vocal_t60_s"]["n_tracks"] == 2
    eq = by["demo", bias.EQ_RMS]
    assert (eq["mean_bias"], eq["mean_abs_bias"]) == (pytest.approx(7 / 3),) * 2
    assert math.isnan(eq["mean_true"])
    one = by["musdb", "vocal_to_backing_lu"]
    assert (one["n_tracks"], one["mean_bias"], one["mean_abs_bias"]) == (1, -0.5, 0.5)
    assert math.isnan(one["sd_bias"])
    split = bias.summarise_bias(rows, ("dataset", "split"))
    groups = {(r["dataset"], r["split"]): r for r in split if r["target"] ==
              "vocal_to_backing_lu"}
    assert set(groups) == {("demo", "test"), ("demo", "train"), ("musdb", "test")}
    assert groups["demo", "train"]["mean_bias"] == pytest.approx(-1.5)
    assert groups["demo", "train"]["n_tracks"] == 2
    with pytest.raises(KeyError, match="genre"):
        bias.summarise_bias(rows, "genre")


def test_calibration_takes_real_non_test_stem_tracks_only():
    from vocalmix.corpus.tracks import Candidate
    from vocalmix.separation.bias import calibration_candidates

    def cand(tid, dataset, split, files=("vocal", "backing"), source="stems"):
        return Candidate(track_id=tid, dataset=dataset, adapter=dataset, split=split,
                         source=source, genre=None, files={f: [f"{tid}/{f}.wav"] for f in files})

    cands = [cand("d1", "demo", "train"), cand("m1", "musdb", "train"),
             cand("m2", "musdb", "valid"), cand("m3", "musdb", "test"),
             cand("r1", "mir1k", "train", files=("raw_vocal", "backing")),
             cand("s1", "separated", "train", source="separated")]
    got = calibration_candidates(cands, synthetic_datasets=["demo"], limit=10, seed=1)
    assert [c.track_id for c in got] == ["m1", "m2"]
    one = calibration_candidates(cands, synthetic_datasets=["demo"], limit=1, seed=1)
    assert len(one) == 1 and one == calibration_candidates(
        cands, synthetic_datasets=["demo"], limit=1, seed=1)
    assert calibration_candidates(cands, synthetic_datasets=["demo"], limit=0, seed=1) == []


def test_corrections_apply_from_three_calibration_tracks(tmp_path):
    from vocalmix.separation.bias import (CORRECTION_COLUMNS, corrections,
                                          read_corrections)
    from vocalmix.tables import write_tsv

    rows = [{"bias_vocal_to_backing_lu": b, "bias_vocal_lra_lu": ""} for b in (-1.0, -2.0)]
    corr = {c["target"]: c for c in corrections(rows)}
    assert corr["vocal_to_backing_lu"]["applied"] == "no"
    assert "2 real calibration track(s)" in corr["vocal_to_backing_lu"]["reason"]
    rows.append({"bias_vocal_to_backing_lu": -3.0, "bias_vocal_lra_lu": ""})
    corr = corrections(rows)
    path = tmp_path / "correction.tsv"
    write_tsv(path, corr, columns=CORRECTION_COLUMNS)
    assert read_corrections(path) == {"vocal_to_backing_lu": pytest.approx(-2.0)}
