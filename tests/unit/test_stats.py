"""Listening-test statistics: the ANOVA against R, sphericity corrections, post-screening,
Friedman and post-hoc tests, and the analysis outputs with their SIMULATED labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vocalmix.stats.rmanova import orthonormal_contrasts, rm_anova, sphericity
from vocalmix.stats.screening import ScreeningSettings, post_screening
from vocalmix.stats.analysis import (OUTPUTS, analyse, complete_design, descriptives, friedman,
                                     posthoc)
from vocalmix.stats.tables import read_table, write_table

# A fixed example: 6 subjects x 3 conditions (c1-c3) x 2 items (i1, i2); columns are
# c1i1, c1i2, c2i1, c2i2, c3i1, c3i2.
Y = np.array([
    [75.6, 80.8, 56.4, 50.3, 54.4, 48.3],
    [76.4, 63.2, 65.0, 65.8, 36.5, 38.6],
    [60.6, 60.5, 51.6, 59.5, 36.3, 43.6],
    [71.1, 63.4, 34.8, 45.6, 41.6, 37.9],
    [64.3, 67.7, 52.2, 48.5, 50.5, 30.5],
    [76.5, 78.8, 55.1, 53.9, 37.2, 31.9],
])

# Reference numbers from R 4.2.2 (Debian r-base-core), computed independently:
#   fit <- aov(rating ~ condition * item + Error(subject / (condition * item)), data = long)
#   summary(fit)                                      -> SS, df, F, p
#   mlm <- lm(Y ~ 1)
#   anova(mlm, M = ~ condition + item, X = ~ item, idata = idata, test = "Spherical")
#   anova(mlm, M = ~ condition * item, X = ~ condition + item, idata = idata,
#         test = "Spherical")                          -> G-G and H-F p-values
#   stats:::sphericity(SSD(mlm), T = ...)              -> GG and HF epsilon (HF uncapped)
#   mauchly.test(mlm, M = ~ condition + item, X = ~ item, idata = idata)
R_AOV = {  # effect: (SS, SS error, df1, df2, F, p)
    "condition": (5184.01556, 910.71444, 2, 10, 28.4612569125, 7.44969975122e-05),
    "item": (20.7025, 114.829167, 1, 5, 0.90145, 0.38599),
    "condition:item": (48.86, 338.683333, 2, 10, 0.72132276955, 0.509762372458),
}
R_SPHERICITY = {  # effect: (GG eps, HF eps uncapped, G-G p, H-F p)
    "condition": (0.8895399409, 1.3465840463, 0.000168194645181, 7.44969975122e-05),
    "condition:item": (0.7349663012, 0.9659299449, 0.476168292665, 0.505964565055),
}
R_MAUCHLY_CONDITION = (0.8758233847, 0.767066601)
# friedman.test(rating ~ condition | block) with blocks = subject:item
R_FRIEDMAN = (20.16666667, 4.17699518e-05)
# t.test(paired = TRUE) on the subjects' condition means; p.adjust(..., "holm");
# wilcox.test(paired = TRUE, exact = TRUE)
R_T_P = {("c1", "c2"): 0.00964732609421, ("c1", "c3"): 0.000243277857731,
         ("c2", "c3"): 0.0333194651059}
R_T_HOLM = {("c1", "c2"): 0.019294652188423, ("c1", "c3"): 0.000729833573192,
            ("c2", "c3"): 0.033319465105928}
R_WILCOXON_P = {("c1", "c2"): 0.03125, ("c2", "c3"): 0.03125}


def example() -> pd.DataFrame:
    cells = [(c, i) for c in ("c1", "c2", "c3") for i in ("i1", "i2")]
    return pd.DataFrame([{"listener": f"s{s}", "condition": c, "item": i, "rating": Y[s, j]}
                         for s in range(6) for j, (c, i) in enumerate(cells)])


def test_rm_anova_matches_r_to_4_decimals():
    table = rm_anova(example()).set_index("effect")
    for effect, (ss, sse, df1, df2, f, p) in R_AOV.items():
        row = table.loc[effect]
        assert row["ss"] == pytest.approx(ss, abs=1e-4)
        assert row["ss_error"] == pytest.approx(sse, abs=1e-4)
        assert (row["df1"], row["df2"]) == (df1, df2)
        assert row["F"] == pytest.approx(f, abs=1e-4)
        assert row["p"] == pytest.approx(p, abs=1e-4)
        assert row["partial_eta_sq"] == pytest.approx(ss / (ss + sse), abs=1e-4)
    for effect, (gg, hf_raw, p_gg, p_hf) in R_SPHERICITY.items():
        row = table.loc[effect]
        assert row["eps_gg"] == pytest.approx(gg, abs=1e-4)
        assert row["eps_hf"] == pytest.approx(min(1.0, hf_raw), abs=1e-4)
        assert row["p_gg"] == pytest.approx(p_gg, abs=1e-4)
        assert row["p_hf"] == pytest.approx(p_hf, abs=1e-4)
    assert table.loc["condition", "mauchly_w"] == pytest.approx(R_MAUCHLY_CONDITION[0], abs=1e-4)
    assert table.loc["condition", "mauchly_p"] == pytest.approx(R_MAUCHLY_CONDITION[1], abs=1e-4)
    assert table.loc["item", "eps_gg"] == 1.0  # one df: sphericity holds trivially


def test_huynh_feldt_raw_matches_r():
    y = Y.reshape(6, 3, 2).mean(axis=2)
    s = sphericity(y @ orthonormal_contrasts(3))
    assert s["eps_gg"] == pytest.approx(R_SPHERICITY["condition"][0], abs=1e-6)
    assert s["eps_hf_raw"] == pytest.approx(R_SPHERICITY["condition"][1], abs=1e-6)


def _with_covariance(cov_diag, n):
    """n x p data whose sample covariance is exactly diag(cov_diag)."""
    p = len(cov_diag)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, p))
    a -= a.mean(axis=0)
    q, _ = np.linalg.qr(a)  # orthonormal, centred columns
    return q * np.sqrt(np.asarray(cov_diag) * (n - 1)) + 50.0


def test_sphericity_by_hand():
    # S = diag(9, 1, 1), p = 3: GG = tr(S)^2 / (p tr(S^2)) = 11^2 / (3 * 83) = 0.4859438;
    # n = 6: HF = (n p GG - 2) / (p (n - 1 - p GG)) = 6.746988 / 10.626506 = 0.6349206
    s = sphericity(_with_covariance([9, 1, 1], 6))
    assert s["eps_gg"] == pytest.approx(121 / 249, abs=1e-9)
    assert s["eps_hf"] == pytest.approx((6 * 3 * 121 / 249 - 2) / (3 * (5 - 3 * 121 / 249)),
                                        abs=1e-9)
    assert s["eps_hf"] == pytest.approx(0.6349206, abs=1e-6)
    # spherical covariance: eps = 1; Mauchly's W = 1
    s = sphericity(_with_covariance([4, 4, 4], 8))
    assert s["eps_gg"] == pytest.approx(1.0) and s["mauchly_w"] == pytest.approx(1.0)
    # all variance in one direction: the lower bound 1 / p
    m = np.outer(np.arange(7.0), [1.0, 2.0, -1.0, 0.5])
    assert sphericity(m)["eps_gg"] == pytest.approx(0.25)


def test_orthonormal_contrasts():
    for k in (2, 3, 5):
        c = orthonormal_contrasts(k)
        assert np.allclose(c.T @ c, np.eye(k - 1)) and np.allclose(c.sum(axis=0), 0)


def test_friedman_and_posthoc_match_r():
    cell, notes = complete_design(example())
    assert notes == []
    fr = friedman(cell)
    assert fr["chi2"] == pytest.approx(R_FRIEDMAN[0], abs=1e-4)
    assert fr["p"] == pytest.approx(R_FRIEDMAN[1], abs=1e-4)
    assert fr["kendall_w"] == pytest.approx(R_FRIEDMAN[0] / (12 * 2), abs=1e-6)
    ph = posthoc(cell).set_index(["condition_a", "condition_b"])
    for pair, p in R_T_P.items():
        assert ph.loc[pair, "p_t"] == pytest.approx(p, abs=1e-6)
        assert ph.loc[pair, "p_t_holm"] == pytest.approx(R_T_HOLM[pair], abs=1e-6)
    for pair, p in R_WILCOXON_P.items():
        assert ph.loc[pair, "p_wilcoxon"] == pytest.approx(p, abs=1e-6)
    d = Y.reshape(6, 3, 2).mean(axis=2)
    diff = d[:, 0] - d[:, 1]
    assert ph.loc[("c1", "c2"), "mean_diff"] == pytest.approx(diff.mean())
    assert ph.loc[("c1", "c2"), "cohen_dz"] == pytest.approx(diff.mean() / diff.std(ddof=1))
    assert ph.loc[("c1", "c3"), "rank_biserial"] == 1.0  # c1 above c3 for every subject


def test_descriptives_t_interval():
    df = pd.DataFrame({"listener": ["a", "b", "c"], "item": "i", "condition": "x",
                       "rating": [60.0, 70.0, 80.0]})
    d = descriptives(df).iloc[0]
    half = 4.302652729911275 * 10 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert (d["mean"], d["sd"], d["median"]) == (70.0, 10.0, 70.0)
    assert d["ci_low"] == pytest.approx(70 - half) and d["ci_high"] == pytest.approx(70 + half)
    assert (d["q1"], d["q3"], d["iqr"]) == (65.0, 75.0, 10.0)


def _screen_data(lapses: int, items: int, grade: float = 85.0) -> pd.DataFrame:
    rows = []
    for i in range(items):
        rows.append({"listener": "L", "item": f"i{i}", "condition": "professional",
                     "type": "reference", "rating": grade if i < lapses else 100.0})
        rows.append({"listener": "L", "item": f"i{i}", "condition": "unprocessed",
                     "type": "normal", "rating": 20.0})
    return pd.DataFrame(rows)


def test_post_screening_bs1534_rule_1():
    def excluded(df: pd.DataFrame) -> bool:
        return bool(post_screening(df, ScreeningSettings())["excluded"].iloc[0])

    # one lapse in 6 items = 16.7 % > 15 %: excluded; in 7 items = 14.3 %: kept
    assert excluded(_screen_data(1, 6)) is True
    assert excluded(_screen_data(1, 7)) is False
    # a grade of exactly 90 is not below 90
    assert excluded(_screen_data(6, 6, grade=90.0)) is False
    s = post_screening(_screen_data(2, 6, grade=89.99), ScreeningSettings()).iloc[0]
    assert (s["reference_items"], s["reference_below"]) == (6, 2)
    assert s["fraction_below"] == pytest.approx(1 / 3) and "2 of 6 items" in s["reason"]


def test_complete_design_drops_incomplete_items_and_listeners():
    df = example()
    df = df[~((df["item"] == "i2") & (df["condition"] == "c3"))]  # i2 lacks c3 everywhere
    df = df[~((df["listener"] == "s0") & (df["item"] == "i1") & (df["condition"] == "c2"))]
    cell, notes = complete_design(df)
    assert set(cell["item"]) == {"i1"} and "s0" not in set(cell["listener"])
    assert len(cell) == 5 * 3 and len(notes) == 2


def test_table_titles(tmp_path):
    write_table(tmp_path / "t.tsv", [{"a": 1.5, "b": "x"}], ["a", "b"], title="T",
                simulated=True)
    title, df = read_table(tmp_path / "t.tsv")
    assert title.startswith("SIMULATED - T") and df.loc[0, "a"] == "1.5"
    write_table(tmp_path / "r.tsv", [{"a": 1}], ["a"], title="T", simulated=False)
    assert read_table(tmp_path / "r.tsv")[0] == "T"


def _ratings(tmp_path, simulated: bool):
    """A ratings table: 8 listeners x 4 items x 3 conditions, one careless listener."""
    r = np.random.default_rng(4)
    rows = []
    for li in range(8):
        for it in range(4):
            for c, mu in (("professional", 97.0), ("rule_based", 60.0),
                          ("data_driven", 70.0)):
                spread = 2.0 if c == "professional" else 6.0
                g = (r.uniform(0, 100) if li == 7 else
                     np.clip(mu + r.normal(0, spread), 0, 100))
                rows.append({"listener": f"L{li}", "item": f"item-t{it}", "track": f"t{it}",
                             "condition": c, "rating": round(float(g)),
                             "type": "reference" if c == "professional" else "normal",
                             "simulated": simulated, "survey_listener_id": f"P{li}"})
    if li == 7:
        for row in rows:  # make sure the careless one lapses
            if row["listener"] == "L7" and row["condition"] == "professional":
                row["rating"] = 40
    path = tmp_path / "ratings.tsv"
    write_table(path, rows, list(rows[0]), title="ratings", simulated=simulated)
    return path, pd.DataFrame(rows)


@pytest.mark.slow
@pytest.mark.parametrize("simulated", [True, False])
def test_analyse_writes_labelled_outputs(tmp_path, simulated):
    path, df = _ratings(tmp_path, simulated)
    outs = {k: tmp_path / v for k, v in OUTPUTS.items()}
    s = analyse(path, outs)
    assert s["excluded"] == ["L7"] and s["listeners_kept"] == 7 and s["simulated"] is simulated
    for name in ("screening", "descriptives", "descriptives_items", "anova", "friedman",
                 "posthoc"):
        title = read_table(outs[name])[0]
        assert title and (("SIMULATED" in title) is simulated), (name, title)
    assert ("SIMULATED" in outs["mixedlm"].read_text().splitlines()[0]) is simulated
    assert ("SIMULATED" in outs["html"].read_text()) is simulated
    assert outs["plot_conditions"].stat().st_size > 10000
    assert outs["plot_items"].stat().st_size > 10000
    # the ANOVA table is rm_anova on the screened, complete data
    kept = df[df["listener"] != "L7"]
    want = rm_anova(kept).set_index("effect")
    got = read_table(outs["anova"])[1].set_index("effect")
    assert float(got.loc["condition", "F"]) == pytest.approx(want.loc["condition", "F"],
                                                             rel=1e-8)
    # balanced data: the mixed model's condition effects are the differences of the means
    means = kept.groupby("condition")["rating"].mean()
    lmm = s["mixedlm"]
    term = [k for k in lmm if k.endswith("[T.data_driven]")][0]
    assert lmm[term] == pytest.approx(means["data_driven"] - means["professional"], abs=1e-3)
    assert lmm["Intercept"] == pytest.approx(means["professional"], abs=1e-3)


def test_analyse_with_one_listener_degrades(tmp_path):
    path, df = _ratings(tmp_path, False)
    one = df[df["listener"] == "L0"]
    write_table(path, one.to_dict("records"), list(one.columns), title="r")
    outs = {k: tmp_path / v for k, v in OUTPUTS.items()}
    s = analyse(path, outs)
    assert any("not computed" in n for n in s["notes"])
    assert "not computed" in outs["anova"].read_text()
    assert read_table(outs["descriptives"])[1].shape[0] == 3


def test_analyse_when_every_listener_is_excluded(tmp_path):
    path, df = _ratings(tmp_path, True)
    bad = df[df["listener"] == "L7"]  # the careless one only
    write_table(path, bad.to_dict("records"), list(bad.columns), title="r", simulated=True)
    outs = {k: tmp_path / v for k, v in OUTPUTS.items()}
    s = analyse(path, outs)
    assert s["excluded"] == ["L7"] and s["listeners_kept"] == 0
    assert any("every listener was excluded" in n for n in s["notes"])
    for name in ("anova", "posthoc", "descriptives", "friedman"):
        assert read_table(outs[name])[0].startswith("SIMULATED")
    assert outs["plot_conditions"].is_file() and outs["plot_items"].is_file()


def test_assumption_checks_by_hand():
    from vocalmix.stats.analysis import assumption_checks

    # additive data (listener offsets, cell means) plus residuals that sum to zero in every
    # cell and for every listener: the residuals come back exactly
    e = {"a": [1.0, -1.0, 0.0], "b": [-1.0, 1.0, 0.0]}
    offset = [3.0, -1.0, -2.0]
    rows = [{"listener": f"L{k}", "item": "i", "condition": c,
             "rating": {"a": 50.0, "b": 70.0}[c] + offset[k] + e[c][k]}
            for c in ("a", "b") for k in range(3)]
    chk = assumption_checks(pd.DataFrame(rows))
    assert chk["residual_skewness"] == pytest.approx(0.0, abs=1e-12)
    # m2 = 4/6, m4 = 4/6: m4 / m2^2 - 3 = 1.5 - 3
    assert chk["residual_excess_kurtosis"] == pytest.approx(-1.5, abs=1e-12)
    va = np.var([53 + 1, 49 - 1, 48 + 0], ddof=1)
    vb = np.var([73 - 1, 69 + 1, 68 + 0], ddof=1)
    assert chk["variance_ratio"] == pytest.approx(max(va, vb) / min(va, vb))


def test_rule_names_every_analysis_output():
    """rule analyse_ratings writes literal paths; they are the files analyse() writes."""
    from tests.conftest import REPO

    rules = (REPO / "workflow/rules/listening.smk").read_text()
    for name, file in OUTPUTS.items():
        assert f'{name}="results/analysis/{file}"' in rules or \
            f'"results/analysis/{file}",' in rules, (name, file)
