"""Paired comparisons of the conditions' objective errors (vocalmix.evaluation.objective.
paired_comparisons) and the paired tests they share with the listening test's post-hoc
(vocalmix.stats.paired)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

from vocalmix.evaluation.objective import (ALL, COMPARISON_COLUMNS, TABLE_METRICS,
                                           comparisons_html, paired_comparisons)
from vocalmix.stats.paired import PAIRED_COLUMNS, holm, paired_test


def _song(dataset: str, track: str, condition: str, balance: float, mel: float,
          t60: float = 20.0) -> dict:
    return {"track": track, "dataset": dataset, "condition": condition,
            "loudness_error_lu": 0.5, "balance_error_lu": balance, "lra_error_lu": 1.0,
            "mel_distance_db": mel, "centroid_error_hz": 50.0, "mrstft_distance": 0.4,
            "t60_error_pct": t60}


def _corpus(n: int = 12, dataset: str = "demo") -> list[dict]:
    """Errors with known answers: the rule-based balance error is the unprocessed one minus
    1 LU on every song (plus a little spread), the data-driven one the rule-based one plus
    +-0.3 LU alternating (no consistent difference); mel distances all alike but for
    spread; the professional mix at 0 everywhere."""
    rng = np.random.default_rng(7)
    rows = []
    for k in range(n):
        track = f"{dataset}_{k:03d}"
        raw = 2.0 + rng.uniform(0.0, 1.0)
        rule = raw - 1.0 + rng.normal(0.0, 0.05)
        learned = rule + (0.3 if k % 2 else -0.3) + rng.normal(0.0, 0.01)
        mel = 1.0 + rng.normal(0.0, 0.1)
        rows += [_song(dataset, track, "professional", 0.0, 0.0, 0.0),
                 _song(dataset, track, "unprocessed", raw, mel),
                 _song(dataset, track, "rule_based", rule, mel + rng.normal(0.0, 0.1)),
                 _song(dataset, track, "data_driven", learned, mel + rng.normal(0.0, 0.1))]
    return rows


def test_paired_test_is_scipys_t_and_wilcoxon_with_the_interval_of_the_difference():
    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 0.5, 15)
    y = x - 0.4 + rng.normal(0.0, 0.2, 15)
    r = paired_test(x, y, alpha=0.05)
    assert list(r) == list(PAIRED_COLUMNS)
    t = st.ttest_rel(x, y)
    w = st.wilcoxon(x, y)
    d = x - y
    half = st.t.ppf(0.975, 14) * d.std(ddof=1) / math.sqrt(15)
    assert r["n"] == 15 and r["df"] == 14
    assert r["mean_diff"] == pytest.approx(d.mean(), abs=1e-12)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert (r["t"], r["p_t"]) == pytest.approx((t.statistic, t.pvalue))
    assert (r["wilcoxon_w"], r["p_wilcoxon"]) == pytest.approx((w.statistic, w.pvalue))
    assert r["cohen_dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert -1.0 <= r["rank_biserial"] <= 1.0 and r["rank_biserial"] > 0.5  # x mostly larger


def test_paired_test_of_identical_values_has_no_test_and_refuses_unpaired_input():
    r = paired_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert r["mean_diff"] == 0.0
    assert all(math.isnan(r[k]) for k in ("t", "p_t", "ci_low", "p_wilcoxon",
                                          "rank_biserial"))
    with pytest.raises(ValueError, match="of one length"):
        paired_test([1.0, 2.0], [1.0])


def test_holm_is_statsmodels_and_keeps_untestable_pairs_out_of_the_family():
    p = [0.01, math.nan, 0.04, 0.03]
    adjusted = holm(p)
    expected = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    assert math.isnan(adjusted[1])
    assert [adjusted[0], adjusted[2], adjusted[3]] == pytest.approx(list(expected))


def test_a_consistent_1_lu_improvement_is_significant_and_an_alternating_one_is_not():
    rows = paired_comparisons(_corpus(), alpha=0.05)
    assert rows and all(list(r) == list(COMPARISON_COLUMNS) for r in rows)
    by = {(r["metric"], r["condition_a"], r["condition_b"]): r for r in rows}
    # the professional mix is no side of any pair; each pair once, earlier condition first
    assert not any("professional" in (r["condition_a"], r["condition_b"]) for r in rows)
    assert {(a, b) for _, a, b in by} == {("unprocessed", "rule_based"),
                                          ("unprocessed", "data_driven"),
                                          ("rule_based", "data_driven")}
    assert {m for m, _, _ in by} == set(TABLE_METRICS)
    better = by["balance_error_lu", "unprocessed", "rule_based"]
    assert better["n"] == 12
    assert better["mean_diff"] == pytest.approx(1.0, abs=0.05)  # LU
    assert better["ci_low"] > 0.9 and better["ci_high"] < 1.1
    assert better["significant"] and better["lower"] == "rule_based"
    assert better["p_wilcoxon_holm"] >= better["p_wilcoxon"]
    same = by["balance_error_lu", "rule_based", "data_driven"]
    assert abs(same["mean_diff"]) < 0.05  # LU: six songs +0.3, six -0.3
    assert not same["significant"] and same["lower"] == "neither"
    # a metric with no difference at all (every loudness error 0.5 LU): no test, not
    # significant
    flat = by["loudness_error_lu", "unprocessed", "rule_based"]
    assert flat["mean_diff"] == 0.0 and math.isnan(flat["p_wilcoxon"])
    assert not flat["significant"] and flat["lower"] == "neither"


def test_holm_family_is_the_pairs_of_one_dataset_and_metric():
    rows = paired_comparisons(_corpus(), alpha=0.05)
    family = [r for r in rows if r["metric"] == "balance_error_lu"]
    expected = multipletests([r["p_wilcoxon"] for r in family], method="holm")[1]
    assert [r["p_wilcoxon_holm"] for r in family] == pytest.approx(list(expected))
    expected_t = multipletests([r["p_t"] for r in family], method="holm")[1]
    assert [r["p_t_holm"] for r in family] == pytest.approx(list(expected_t))


def test_songs_missing_a_value_leave_only_that_pair_and_datasets_are_blocks():
    rows = _corpus(10, "demo") + _corpus(8, "musdb18hq")
    for r in rows:  # no T60 fit for the data-driven render of two demo songs
        if r["dataset"] == "demo" and r["condition"] == "data_driven" and \
                r["track"] in ("demo_000", "demo_001"):
            r["t60_error_pct"] = math.nan
    out = paired_comparisons(rows)
    assert list(dict.fromkeys(r["dataset"] for r in out)) == ["demo", "musdb18hq", ALL]
    n = {(r["dataset"], r["metric"], r["condition_a"], r["condition_b"]): r["n"] for r in out}
    assert n["demo", "t60_error_pct", "rule_based", "data_driven"] == 8
    assert n["demo", "t60_error_pct", "unprocessed", "rule_based"] == 10
    assert n["demo", "balance_error_lu", "rule_based", "data_driven"] == 10
    assert n["musdb18hq", "balance_error_lu", "unprocessed", "rule_based"] == 8
    assert n[ALL, "balance_error_lu", "unprocessed", "rule_based"] == 18
    # one dataset: its block only (ALL would repeat it)
    assert {r["dataset"] for r in paired_comparisons(_corpus(6))} == {"demo"}


def test_the_report_page_marks_the_significant_cells():
    rows = paired_comparisons(_corpus(), alpha=0.05)
    page = comparisons_html(rows, title="paired")
    lines = [ln for ln in page.splitlines() if ln.startswith("<tr><td>")]
    assert len(lines) == 3  # one row per pair
    rule = next(ln for ln in lines if ln.startswith("<tr><td>Unprocessed sum</td><td>Rule-based"))
    bold = re.findall(r"<td><b>([+-][0-9.]+) ", rule)
    assert len(bold) == 1 and float(bold[0]) == pytest.approx(1.0, abs=0.05)  # the balance
    cells = re.findall(r"<td>(.*?)</td>", rule)[2:]
    assert cells[TABLE_METRICS.index("balance_error_lu")].startswith("<b>")
    learned = next(ln for ln in lines if ln.startswith("<tr><td>Rule-based</td>"))
    assert "<b>" not in learned
