"""Rendering of the listening-test conditions and the objective metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vocalmix.evaluation.objective import (ALL, TABLE_METRICS, balance_lu, centroid_error_hz,
                                           compare, loudness_error_lu, mel_distance_db,
                                           mrstft_distance, objective_table,
                                           objective_table_html, summarise, unnormalised_lufs)
from vocalmix.measure.loudness import integrated_loudness, true_peak_dbtp
from vocalmix.evaluation.render import (RenderSettings, choose_excerpt, choose_excerpt_file,
                                        conditions_for, cut_excerpt, normalise_for_listening, render_condition,
                                        system_input)
from vocalmix.audio import write_audio

SR = 44100


def _sung(seconds: float, seed: int = 0, f0: float = 220.0, gaps: bool = True) -> np.ndarray:
    """A stereo vocal-like signal: harmonic notes with vibrato and phrase gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = f0 * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = np.ones_like(t)
    if gaps:
        env *= (np.sin(2 * np.pi * 0.25 * t) > -0.3)
    x = 0.2 * x * env + 1e-4 * rng.standard_normal(t.size)
    return np.stack([x, x]).astype(np.float32)


def _backing(seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    noise = rng.standard_normal((2, n)).astype(np.float32)
    from scipy.signal import butter, sosfilt

    sos = butter(2, 3000, fs=SR, output="sos")
    return (0.1 * sosfilt(sos, noise, axis=1)).astype(np.float32)


# ------------------------------------------------------------------------------ metrics
def test_identical_signals_give_zero_on_every_metric():
    v, b = _sung(8), _backing(8)
    mix = v + b
    item = {"mix": mix, "vocal": v, "backing": b, "t60_s": 0.8}
    m = compare(item, item, SR)
    for key in ("loudness_error_lu", "balance_error_lu", "lra_error_lu", "mel_distance_db",
                "centroid_error_hz", "mrstft_distance", "t60_error_pct"):
        assert m[key] == pytest.approx(0.0, abs=1e-9), key


def test_a_vocal_3_db_louder_gives_a_3_lu_balance_error():
    v, b = _sung(8), _backing(8)
    ref = {"mix": v + b, "vocal": v, "backing": b}
    v3 = v * np.float32(10 ** (3 / 20))
    cond = {"mix": v3 + b, "vocal": v3, "backing": b}
    m = compare(cond, ref, SR)
    assert m["balance_error_lu"] == pytest.approx(3.0, abs=0.01)
    assert m["lra_error_lu"] == pytest.approx(0.0, abs=0.05)  # a gain leaves the LRA alone
    assert balance_lu(v3, b, SR) - balance_lu(v, b, SR) == pytest.approx(3.0, abs=0.01)
    assert mel_distance_db(cond["mix"], ref["mix"], SR) > 0.3


def test_a_mix_3_db_louder_gives_a_3_lu_loudness_error_also_after_normalisation():
    v, b = _sung(8), _backing(8)
    ref_mix = v + b
    loud = ref_mix * np.float32(10 ** (3 / 20))
    assert loudness_error_lu(loud, ref_mix, SR) == pytest.approx(3.0, abs=0.01)
    assert loudness_error_lu(ref_mix, loud, SR) == pytest.approx(3.0, abs=0.01)  # absolute
    m = compare({"mix": loud}, {"mix": ref_mix}, SR)
    assert m["loudness_error_lu"] == pytest.approx(3.0, abs=0.01)
    assert m["mel_distance_db"] > 2.0  # the mel distance sees the level too
    # both normalised for listening: the recorded loudness before it still gives 3 LU, while
    # the normalised mixes themselves are the same to the spectral metrics
    before = {"ref": integrated_loudness(ref_mix, SR), "loud": integrated_loudness(loud, SR)}
    norm = {k: normalise_for_listening(x, SR, target_lufs=-23.0, ceiling_dbtp=-1.0)[0]
            for k, x in (("ref", ref_mix), ("loud", loud))}
    m = compare({"mix": norm["loud"], "unnormalised_lufs": before["loud"]},
                {"mix": norm["ref"], "unnormalised_lufs": before["ref"]}, SR)
    assert m["loudness_error_lu"] == pytest.approx(3.0, abs=0.01)
    assert m["unnormalised_lufs"] == pytest.approx(before["loud"], abs=1e-9)
    assert m["mel_distance_db"] == pytest.approx(0.0, abs=0.01)
    assert math.isnan(loudness_error_lu(np.zeros_like(ref_mix), ref_mix, SR))  # silence


def test_loudness_before_normalisation_from_the_render_json():
    norm = {"gain_db": -4.5, "integrated_lufs": -23.0, "limited": False}
    assert unnormalised_lufs({"unnormalised_lufs": -17.25, "normalisation": norm}) == -17.25
    # a JSON from before it was recorded: a pure gain moved the loudness by exactly gain_db
    assert unnormalised_lufs({"normalisation": norm}) == pytest.approx(-18.5, abs=1e-12)
    # the limiter acted: the gain alone does not give it back
    assert math.isnan(unnormalised_lufs({"normalisation": {**norm, "limited": True}}))
    assert math.isnan(unnormalised_lufs({}))


def test_rows_without_stems_get_the_loudness_error_through_render_and_evaluate(tmp_path):
    # a supplied professional mix and a supplied commercial render 3 dB louder, neither with
    # stems: the render stage normalises both to -23 LUFS and records their loudness before;
    # evaluate_track gives the commercial row 3.0 LU, and no stem metric
    from vocalmix.evaluation.objective import evaluate_track
    from vocalmix.files import read_json, write_json
    from vocalmix.stages import render as stage

    v, b = _sung(6), _backing(6)
    pro = 0.5 * (v + b)
    paths = {}
    for name, x in (("vocal", v), ("backing", b), ("mixture", v + b), ("pro", pro),
                    ("commercial", pro * np.float32(10 ** (3 / 20)))):
        paths[name] = str(tmp_path / f"{name}.wav")
        write_audio(paths[name], x, SR)  # float WAV: the 3 dB are exact
    write_json(tmp_path / "excerpt.json",
               {"start_s": 0.0, "duration_s": 6.0, "fade_s": 0.05, "method": "whole"})
    row = {"track_id": "preview_t", "split": "test", "vocal": paths["vocal"],
           "backing": paths["backing"], "mixture": paths["mixture"]}
    renders = {}
    for condition in ("professional", "commercial"):
        out = {k: str(tmp_path / f"{condition}.{ext}") for k, ext in
               (("audio", "wav"), ("vocal", "vocal.flac"), ("backing", "backing.flac"),
                ("json", "json"))}
        stage.render({"excerpt": str(tmp_path / "excerpt.json"), "vocal_in": paths["vocal"]},
                     out, {"row": row, "condition": condition, "input_role": "corrupted",
                           "reference": paths["pro"], "commercial": paths["commercial"],
                           "genre": None, "genre_source": None, "render": {},
                           "sample_rate": SR,
                           "listening": {"loudness_lufs": -23.0, "true_peak_dbtp": -1.0}})
        info = read_json(out["json"])
        assert info["stems_known"] is False and info["source"] == "supplied"
        assert info["integrated_lufs"] == pytest.approx(-23.0, abs=0.05)
        renders[condition] = out
    assert (read_json(renders["commercial"]["json"])["unnormalised_lufs"]
            - read_json(renders["professional"]["json"])["unnormalised_lufs"]
            == pytest.approx(3.0, abs=0.01))
    rows = {r["condition"]: r for r in evaluate_track(
        "preview_t", renders, SR, seed=0, reverb={"max_evaluations": 8, "population": 4},
        dataset="preview")}
    assert [r["dataset"] for r in rows.values()] == ["preview", "preview"]
    assert rows["commercial"]["loudness_error_lu"] == pytest.approx(3.0, abs=0.01)
    assert rows["professional"]["loudness_error_lu"] == pytest.approx(0.0, abs=1e-9)
    for m in ("balance_error_lu", "lra_error_lu", "t60_error_pct"):
        assert math.isnan(rows["commercial"][m]), m
    assert rows["commercial"]["mel_distance_db"] == pytest.approx(0.0, abs=0.05)


def test_spectral_metrics_respond_to_a_brighter_mix():
    v, b = _sung(6), _backing(6)
    rng = np.random.default_rng(5)
    hiss = (0.05 * rng.standard_normal(b.shape)).astype(np.float32)
    from scipy.signal import butter, sosfilt

    hiss = sosfilt(butter(4, 6000, "high", fs=SR, output="sos"), hiss, axis=1).astype(np.float32)
    ref, bright = v + b, v + b + hiss
    # the centroid rises by hundreds of Hz, and every distance is positive
    assert centroid_error_hz(bright, ref, SR) > 300
    assert mrstft_distance(bright, ref, SR) > 0.05
    assert mel_distance_db(bright, ref, SR) > 1.0
    # and they grow with the change
    assert mrstft_distance(ref + 2 * hiss, ref, SR) > mrstft_distance(bright, ref, SR)


def test_t60_error_is_relative_in_percent():
    v, b = _sung(4), _backing(4)
    ref = {"mix": v + b, "t60_s": 1.0}
    cond = {"mix": v + b, "t60_s": 1.2}
    assert compare(cond, ref, SR)["t60_error_pct"] == pytest.approx(20.0, abs=1e-9)
    assert math.isnan(compare({"mix": v + b}, ref, SR)["balance_error_lu"])  # no stems


def test_summary_has_mean_median_ci_and_n():
    rows = [{"track": f"t{i}", "condition": "rule_based", "balance_error_lu": x,
             "lra_error_lu": math.nan, "mel_distance_db": 1.0, "centroid_error_hz": 10.0,
             "mrstft_distance": 0.5, "t60_error_pct": 5.0}
            for i, x in enumerate([1.0, 2.0, 3.0, 6.0])]
    s = {r["metric"]: r for r in summarise(rows)}
    bal = s["balance_error_lu"]
    assert bal["mean"] == pytest.approx(3.0) and bal["median"] == pytest.approx(2.5)
    assert bal["n"] == 4
    # t(0.975, 3) = 3.182446; sd = 2.160247
    half = 3.182446 * 2.160247 / 2
    assert bal["ci95_low"] == pytest.approx(3 - half, abs=1e-4)
    assert bal["ci95_high"] == pytest.approx(3 + half, abs=1e-4)
    assert s["lra_error_lu"]["n"] == 0 and s["lra_error_lu"]["mean"] is None


def _rows(dataset: str, track: str, condition: str, balance: float, loudness: float) -> dict:
    return {"track": track, "dataset": dataset, "condition": condition,
            "loudness_error_lu": loudness, "balance_error_lu": balance, "lra_error_lu": 1.0,
            "mel_distance_db": 2.0, "centroid_error_hz": 100.0, "mrstft_distance": 0.5,
            "t60_error_pct": 10.0}


def test_summary_and_objective_table_per_dataset_then_all():
    rows = [_rows("demo", "demo_1", "rule_based", 1.0, 0.5),
            _rows("demo", "demo_2", "rule_based", 3.0, 1.5),
            _rows("demo", "demo_1", "unprocessed", 4.0, 2.0),
            _rows("musdb18hq", "musdb18hq_a", "rule_based", 5.0, 3.0),
            _rows("musdb18hq", "musdb18hq_a", "commercial", math.nan, 6.0),  # no stems
            _rows("musdb18hq", "musdb18hq_b", "commercial", 2.0, 4.0)]
    s = {(r["dataset"], r["condition"], r["metric"]): r for r in summarise(rows)}
    # blocks: each dataset in name order, then all; conditions only where present
    order = list(dict.fromkeys((r["dataset"], r["condition"]) for r in summarise(rows)))
    assert order == [("demo", "unprocessed"), ("demo", "rule_based"),
                     ("musdb18hq", "commercial"), ("musdb18hq", "rule_based"),
                     (ALL, "unprocessed"), (ALL, "commercial"), (ALL, "rule_based")]
    assert s["demo", "rule_based", "balance_error_lu"]["mean"] == pytest.approx(2.0, abs=1e-12)
    assert s["demo", "rule_based", "balance_error_lu"]["n"] == 2
    assert s["musdb18hq", "rule_based", "balance_error_lu"]["mean"] == pytest.approx(5.0)
    assert s[ALL, "rule_based", "balance_error_lu"]["mean"] == pytest.approx(3.0, abs=1e-12)
    assert s[ALL, "rule_based", "loudness_error_lu"]["mean"] == pytest.approx(5 / 3, abs=1e-12)
    assert s[ALL, "rule_based", "balance_error_lu"]["n"] == 3
    # a row without stems: its loudness error counts, its balance error does not
    assert s["musdb18hq", "commercial", "loudness_error_lu"]["mean"] == pytest.approx(5.0)
    assert s["musdb18hq", "commercial", "loudness_error_lu"]["n"] == 2
    assert s["musdb18hq", "commercial", "balance_error_lu"]["mean"] == pytest.approx(2.0)
    assert s["musdb18hq", "commercial", "balance_error_lu"]["n"] == 1

    table = objective_table(rows)
    assert [(r["dataset"], r["condition"]) for r in table] == order
    assert list(table[0]) == ["dataset", "condition", "n_tracks", *TABLE_METRICS]
    t = {(r["dataset"], r["condition"]): r for r in table}
    assert t["demo", "rule_based"]["n_tracks"] == 2
    assert t["demo", "rule_based"]["loudness_error_lu"] == pytest.approx(1.0, abs=1e-12)
    assert t[ALL, "rule_based"]["balance_error_lu"] == pytest.approx(3.0, abs=1e-12)
    assert t["musdb18hq", "commercial"]["n_tracks"] == 2
    assert t["musdb18hq", "commercial"]["balance_error_lu"] == pytest.approx(2.0)
    page = objective_table_html(table, summarise(rows), title="per dataset")
    lines = [ln for ln in page.splitlines() if ln.startswith("<tr")]
    assert len(lines) == 2 + len(table)  # two header rows, then one per table row
    # the mean over fewer tracks than the row's shows its n; the others do not
    com = lines[2 + order.index(("musdb18hq", "commercial"))]
    assert "<td>musdb18hq</td><td>Commercial / preset</td><td>2</td><td>5.00</td>" in com
    assert "<td>2.00 <small>(n=1)</small></td>" in com
    assert "(n=" not in lines[2 + order.index(("demo", "rule_based"))]
    # one dataset: its block and "all" hold the same rows, so the table shows it once
    demo = [r for r in rows if r["dataset"] == "demo"]
    assert {r["dataset"] for r in objective_table(demo)} == {"demo"}
    assert {r["dataset"] for r in summarise(demo)} == {"demo", ALL}


def test_summary_refuses_a_dataset_named_all_and_mixed_tables():
    with pytest.raises(ValueError, match="named 'all'"):
        summarise([_rows(ALL, "t", "rule_based", 1.0, 1.0)])
    rows = [_rows("demo", "t", "rule_based", 1.0, 1.0), _rows("", "u", "rule_based", 1.0, 1.0)]
    with pytest.raises(ValueError, match="rerun it"):
        summarise(rows)


def test_evaluate_stage_writes_the_tables_per_dataset_and_skips_a_table_without_one(tmp_path,
                                                                                   caplog):
    import csv

    from vocalmix.stages.objective import evaluate
    from vocalmix.tables import write_tsv

    new = [_rows(d, t, c, b, lo) for d, t, c, b, lo in
           (("demo", "demo_1", "professional", 0.0, 0.0),
            ("demo", "demo_1", "rule_based", 1.0, 2.0),
            ("musdb18hq", "musdb18hq_a", "professional", 0.0, 0.0),
            ("musdb18hq", "musdb18hq_a", "rule_based", 3.0, 4.0))]
    tables = []
    for track in ("demo_1", "musdb18hq_a"):
        tables.append(str(tmp_path / f"{track}.tsv"))
        write_tsv(tables[-1], [r for r in new if r["track"] == track])
    old = [{k: v for k, v in _rows("demo", "demo_2", "rule_based", 9.0, 9.0).items()
            if k != "dataset"}]  # written before the dataset column
    tables.append(str(tmp_path / "demo_2.tsv"))
    write_tsv(tables[-1], old)
    out = {k: str(tmp_path / "out" / name) for k, name in
           (("per_track", "per_track.tsv"), ("summary", "summary.tsv"),
            ("table", "objective_table.tsv"), ("table_html", "objective_table.html"),
            ("comparisons", "comparisons.tsv"), ("comparisons_html", "comparisons.html"),
            ("plot", "metrics.png"))}
    evaluate({"tables": tables}, out, {})
    assert "demo_2.tsv: no dataset column" in caplog.text

    def read(key):
        with open(out[key], newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t"))

    per_track = read("per_track")
    assert {r["track"] for r in per_track} == {"demo_1", "musdb18hq_a"}
    assert list(per_track[0])[:3] == ["track", "dataset", "condition"]
    summary = read("summary")
    assert list(summary[0]) == ["dataset", "condition", "metric", "unit", "mean", "median",
                                "ci95_low", "ci95_high", "n"]
    s = {(r["dataset"], r["condition"], r["metric"]): r for r in summary}
    assert float(s["musdb18hq", "rule_based", "balance_error_lu"]["mean"]) == 3.0
    assert float(s["all", "rule_based", "loudness_error_lu"]["mean"]) == 3.0
    table = read("table")
    assert [(r["dataset"], r["condition"]) for r in table] == [
        ("demo", "professional"), ("demo", "rule_based"), ("musdb18hq", "professional"),
        ("musdb18hq", "rule_based"), ("all", "professional"), ("all", "rule_based")]
    assert float(table[-1]["balance_error_lu"]) == 2.0 and table[-1]["n_tracks"] == "2"
    assert "<td>musdb18hq</td><td>Rule-based</td><td>1</td><td>4.00</td>" in (
        tmp_path / "out" / "objective_table.html").read_text()
    # the paired comparisons: professional is no side; one song per dataset gives a
    # difference but no interval, and nothing significant
    comparisons = read("comparisons")
    assert {(r["condition_a"], r["condition_b"]) for r in comparisons} == set()
    assert "<h1>" in (tmp_path / "out" / "comparisons.html").read_text()


# ------------------------------------------------------------------------------ excerpts
def test_excerpt_is_the_whole_short_song_and_where_the_vocal_sings_in_a_long_one():
    short = _sung(12)
    ex = choose_excerpt(short, SR, RenderSettings(excerpt_s=25, fade_s=0.1))
    assert ex["start_s"] == 0 and ex["duration_s"] == pytest.approx(12.0)
    # 60 s: silence except a sung passage from 30 to 52 s
    long = np.zeros((2, 60 * SR), dtype=np.float32)
    long[:, 30 * SR: 52 * SR] = _sung(22, gaps=False)
    ex = choose_excerpt(long, SR, RenderSettings(excerpt_s=20))
    assert 30.0 <= ex["start_s"] <= 32.0
    assert ex["duration_s"] == 20
    fixed = choose_excerpt(long, SR, RenderSettings(excerpt_s=20, start_s=50.0))
    assert fixed["start_s"] == pytest.approx(40.0)  # clamped so that 20 s fit


def test_excerpt_from_a_file_is_streamed_and_equals_the_one_from_the_array(tmp_path):
    # the excerpt stage reads the vocal through the streaming meter (memory flat in the
    # song's length); the choice is the one the whole array gives, on a 24-bit FLAC as stored
    long = np.zeros((1, 90 * SR), dtype=np.float32)
    long[:, 47 * SR: 70 * SR] = _sung(23, gaps=False)[:1]
    path = tmp_path / "vocal.flac"
    write_audio(path, long, SR, subtype="PCM_24")
    settings = RenderSettings(excerpt_s=20)
    from_file, sr = choose_excerpt_file(path, settings)
    assert sr == SR
    assert from_file == choose_excerpt(long, SR, settings)
    assert 47.0 <= from_file["start_s"] <= 50.0
    whole, _ = choose_excerpt_file(path, RenderSettings(excerpt_s=120))
    assert whole["method"] == "whole" and whole["duration_s"] == pytest.approx(90.0)


def test_cut_excerpt_has_the_length_and_fades():
    x = np.ones((2, 10 * SR), dtype=np.float32)
    y = cut_excerpt(x, SR, {"start_s": 2.0, "duration_s": 5.0, "fade_s": 0.1})
    assert y.shape == (2, 5 * SR)
    assert y[0, 0] < 1e-3 and y[0, -1] < 1e-3
    assert np.all(y[:, int(0.1 * SR): -int(0.1 * SR)] == 1.0)


@pytest.mark.parametrize("peaky", [False, True])
def test_normalised_to_the_listening_loudness_under_the_true_peak_ceiling(peaky):
    x = 0.1 * (_sung(8) + _backing(8))
    if peaky:  # full-scale clicks over a quiet programme: normalising would clip them
        x[:, ::SR // 2] = 1.0
    y, info = normalise_for_listening(x, SR, target_lufs=-16.0, ceiling_dbtp=-1.0)
    assert integrated_loudness(y, SR) == pytest.approx(-16.0, abs=0.1)
    assert true_peak_dbtp(y, SR) <= -1.0
    assert info["limited"] is peaky


# ---------------------------------------------------------------------- conditions
def test_conditions_and_inputs_follow_the_dataset():
    stems = {"track_id": "s", "vocal": "v.wav", "backing": "b.wav", "mixture": "m.wav"}
    raw = {"track_id": "r", "raw_vocal": "raw.wav", "backing": "b.wav"}
    assert conditions_for(stems, RenderSettings()) == ["professional", "unprocessed",
                                                        "commercial", "rule_based", "data_driven"]
    nowhere = RenderSettings(professional="/nowhere/{track}.wav")
    assert "professional" not in conditions_for(raw, nowhere)
    assert system_input(stems, RenderSettings(corruption_version=2)) == (
        "corrupted", "results/corrupted/s/v2.flac")
    assert system_input(raw, RenderSettings()) == ("raw", "raw.wav")


def test_preset_stands_in_for_a_missing_commercial_render_and_says_so(tmp_path):

    v, b = _sung(6), _backing(6)
    row = {"track_id": "t", "genre": "pop"}
    mix, vs, bs, info = render_condition("commercial", row=row, backing=b, sample_rate=SR,
                                         vocal_in=v)
    assert info["source"] == "preset" and vs is not None
    np.testing.assert_allclose(mix.shape, b.shape)
    path = tmp_path / "tool.wav"
    write_audio(path, (v + b) * 0.5, SR)
    mix, vs, bs, info = render_condition("commercial", row=row, backing=b, sample_rate=SR,
                                         vocal_in=v, commercial=str(path))
    assert info["source"] == "supplied" and vs is None
    unproc, vs, bs, info = render_condition("unprocessed", row=row, backing=b,
                                            sample_rate=SR, vocal_in=v)
    np.testing.assert_array_equal(unproc, v + b)


# ------------------------------------------------ the render stage, windowed conditions
@pytest.mark.parametrize("condition", ["professional", "unprocessed"])
def test_render_stage_reads_only_the_excerpt_and_writes_the_whole_song_paths_bytes(
        tmp_path, monkeypatch, condition):
    # professional and unprocessed need nothing outside the excerpt: the stage reads only its
    # samples (memory flat in the song's length) and writes exactly what cutting the whole
    # song gives; a vocal longer than the backing is cut at the backing's end either way
    from vocalmix.audio import read_audio
    from vocalmix.evaluation import render as render_module
    from vocalmix.files import write_json
    from vocalmix.stages import render as stage

    rng = np.random.default_rng(3)
    n = 40 * SR
    vocal = _sung(41, seed=1)[:, : 41 * SR]  # one second longer than the backing
    backing = (0.05 * rng.standard_normal((2, n))).astype(np.float32)
    paths = {}
    for name, x in (("vocal", vocal), ("backing", backing),
                    ("mixture", vocal[:, :n] + backing)):
        paths[name] = str(tmp_path / f"{name}.flac")
        write_audio(paths[name], np.clip(x, -1, 1), SR, subtype="PCM_24")
    vin = str(tmp_path / "v0.wav")
    write_audio(vin, vocal[:1] * np.float32(0.5), SR)
    row = {"track_id": "t", "split": "test", **paths}
    for start in (12.25, 25.0):  # inside, and reaching past the backing's end
        excerpt = {"start_s": start, "duration_s": 16.0, "fade_s": 0.05, "method": "fixed"}
        write_json(tmp_path / "excerpt.json", excerpt)
        params = {"row": row, "condition": condition, "input_role": "corrupted",
                  "reference": paths["mixture"], "commercial": None, "genre": None,
                  "genre_source": None, "render": {}, "sample_rate": SR,
                  "listening": {"loudness_lufs": -23.0, "true_peak_dbtp": -1.0}}
        inputs = {"excerpt": str(tmp_path / "excerpt.json"), "vocal_in": vin}
        out = {}
        for label, windowed in (("window", render_module.WINDOWED_CONDITIONS), ("whole", ())):
            monkeypatch.setattr(stage, "WINDOWED_CONDITIONS", windowed)
            out[label] = {k: str(tmp_path / f"{label}.{k}.{ext}") for k, ext in
                          (("audio", "wav"), ("vocal", "flac"), ("backing", "flac"),
                           ("json", "json"))}
            stage.render(inputs, out[label], params)
        for k in ("audio", "vocal", "backing"):
            a, _ = read_audio(out["window"][k])
            b, _ = read_audio(out["whole"][k])
            assert a.shape == (2, 16 * SR)
            assert np.array_equal(a, b), (start, k)


def test_the_rule_based_render_takes_its_genre_from_genres_tsv_not_a_placeholder(tmp_path):
    """Snakemake gives a parameter that reads a re-running checkpoint a placeholder
    (``<TBD>``); the render stage reads the resolved genre from its genres.tsv input."""
    from vocalmix.models.genre import GENRES_COLUMNS
    from vocalmix.evaluation.render import RenderError
    from vocalmix.stages.render import _genre

    path = tmp_path / "genres.tsv"
    row = {c: "" for c in GENRES_COLUMNS}
    row.update(track_id="t", genre="rock", genre_source="metadata", genre_resolved="rock",
               genre_resolved_source="metadata")
    path.write_text("\t".join(GENRES_COLUMNS) + "\n"
                    + "\t".join(row[c] for c in GENRES_COLUMNS) + "\n")
    placeholder = {"genre": "<TBD>", "genre_source": "<TBD>"}
    assert _genre({"genres": str(path)}, placeholder, "rule_based", "t") == ("rock", "metadata")
    assert _genre({"genres": str(path)}, {"genre": "pop", "genre_source": "metadata"},
                  "unprocessed", "t") == ("pop", "metadata")
    with pytest.raises(RenderError, match="u: not in"):
        _genre({"genres": str(path)}, placeholder, "rule_based", "u")


# ------------------------------------- the mixing systems' analysis window (issue 19)
def test_analysis_window_is_the_whole_short_song_and_a_window_around_the_excerpt():
    from vocalmix.evaluation.render import analysis_window

    ex = {"start_s": 100.0, "duration_s": 20.0}
    assert analysis_window(ex, SR, 180 * SR, 180.0) is None  # up to analysis_s: whole
    first, n = analysis_window(ex, SR, 600 * SR, 180.0)
    assert n == 180 * SR
    assert first == 20 * SR  # centred: the excerpt's centre (110 s) is the window's
    # moved inside the song at both ends, the excerpt still inside
    assert analysis_window({"start_s": 5.0, "duration_s": 20.0}, SR, 600 * SR, 180.0) == (
        0, 180 * SR)
    assert analysis_window({"start_s": 570.0, "duration_s": 25.0}, SR, 595 * SR, 180.0) == (
        415 * SR, 180 * SR)
    # never shorter than the excerpt
    assert analysis_window({"start_s": 60.0, "duration_s": 40.0}, SR, 600 * SR, 30.0) == (
        60 * SR, 40 * SR)


def test_a_mixing_system_in_the_render_stage_decides_on_its_window_of_a_long_song(tmp_path):
    """A song longer than ``mixing.analysis_s`` is mixed on the window around the excerpt:
    the preset's +1 LU balance holds in the excerpt although the backing of the song's first
    12 s (outside the window) is 12 dB louder; mixed whole, that loud part sets the vocal's
    gain and the excerpt's vocal sits several LU too loud."""
    from vocalmix.audio import read_audio
    from vocalmix.evaluation.objective import balance_lu
    from vocalmix.files import read_json, write_json
    from vocalmix.mixing.preset import PRESET_BALANCE_LU
    from vocalmix.stages import render as stage

    seconds = 48
    vocal = _sung(seconds, seed=2, gaps=False)
    backing = _backing(seconds, seed=4)
    backing[:, : 12 * SR] *= np.float32(10 ** (12 / 20))
    paths = {}
    for name, x in (("vocal", vocal), ("backing", backing)):
        paths[name] = str(tmp_path / f"{name}.wav")
        write_audio(paths[name], np.clip(x, -1, 1), SR)
    excerpt = {"start_s": 28.0, "duration_s": 5.0, "fade_s": 0.05, "method": "fixed"}
    write_json(tmp_path / "excerpt.json", excerpt)
    row = {"track_id": "t", "split": "test", **paths}
    inputs = {"excerpt": str(tmp_path / "excerpt.json"), "vocal_in": paths["vocal"]}
    balance, info = {}, {}
    for label, analysis_s in (("window", 30.0), ("whole", 120.0)):
        params = {"row": row, "condition": "commercial", "input_role": "corrupted",
                  "reference": None, "commercial": None, "genre": None,
                  "genre_source": None, "render": {"cleanup": False}, "sample_rate": SR,
                  "mixing": {"analysis_s": analysis_s},
                  "listening": {"loudness_lufs": -23.0, "true_peak_dbtp": -1.0}}
        out = {k: str(tmp_path / f"{label}.{k}.{ext}") for k, ext in
               (("audio", "wav"), ("vocal", "flac"), ("backing", "flac"), ("json", "json"))}
        stage.render(inputs, out, params)
        v, _ = read_audio(out["vocal"])
        b, _ = read_audio(out["backing"])
        assert v.shape == (2, 5 * SR)
        balance[label] = balance_lu(v, b, SR)
        info[label] = read_json(out["json"])
    # centred on the excerpt (28-33 s): 15.5-45.5 s, the loud first 12 s left out
    assert info["window"]["analysis_window"] == {"start_s": 15.5, "duration_s": 30.0}
    assert info["whole"]["analysis_window"] is None
    assert balance["window"] == pytest.approx(PRESET_BALANCE_LU, abs=0.5)
    assert balance["whole"] > balance["window"] + 3.0
