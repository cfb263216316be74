"""Rule ``analyse_ratings`` / ``vocalmix stats``: the listening test's statistics.

From ``ratings.tsv`` (one grade 0-100 per listener, item and condition) to
``results/analysis/``:

1. BS.1534-3 post-screening (:mod:`vocalmix.stats.screening`): ``screening.tsv``;
   excluded listeners are listed there and left out of everything below.
2. Descriptive statistics per condition and per item x condition: n, mean with its 95 %
   t confidence interval, SD, median, quartiles and IQR (BS.1534 section 10.3):
   ``descriptives.tsv``, ``descriptives_items.tsv``.
3. Repeated-measures ANOVA, condition x item within listeners, with Greenhouse-Geisser and
   Huynh-Feldt corrected p-values, Mauchly's test and partial eta squared
   (:mod:`vocalmix.stats.rmanova`): ``anova.tsv``. The ANOVA, Friedman and post-hoc
   tests use the complete design: items that lack a condition and listeners that lack a
   cell are left out of them (logged).
4. Friedman test over the conditions with listener x item blocks, Kendall's W:
   ``friedman.tsv``.
5. Pairwise post-hoc tests on the listeners' mean grades per condition (the listener is the
   independent unit): paired t-test (Cohen's d_z, CI of the difference) and Wilcoxon
   signed-rank test (rank-biserial r), each Holm-corrected over the pairs: ``posthoc.tsv``.
   The ANOVA's assumptions are checked as BS.1534-3 Attachment 4 asks (residual skewness
   and kurtosis, variance ratio and Brown-Forsythe test across conditions):
   ``stats_summary.json`` and the HTML summary.
6. A linear mixed model ``rating ~ condition`` (reference level: the professional mix) with
   crossed random intercepts for listener and item (statsmodels ``MixedLM``, REML):
   ``mixedlm.txt``.
7. Figures (grades per condition with 95 % CIs; per item) and an HTML summary for the
   report. Every title says SIMULATED when the ratings come from the simulated panel.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import textwrap
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import stats as st

from vocalmix.stats.paired import holm, mean_ci, paired_test
from vocalmix.stats.rmanova import ANOVA_COLUMNS, rm_anova
from vocalmix.stats.screening import SCREENING_COLUMNS, ScreeningSettings, post_screening
from vocalmix.stats.tables import SIMULATED, read_table, title_of, write_table
from vocalmix.conditions import CONDITIONS, LABELS, REFERENCE
from vocalmix.config import schema_settings
from vocalmix.files import atomic_path, write_json

__all__ = ["AnalysisSettings", "StatsError", "load_ratings", "condition_order", "complete_design",
           "descriptives", "friedman", "posthoc", "assumption_checks", "mixed_model",
           "analyse", "load_survey", "OUTPUTS"]

log = logging.getLogger(__name__)

#: Output name -> file name in the analysis folder.
OUTPUTS = {
    "screening": "screening.tsv",
    "descriptives": "descriptives.tsv",
    "descriptives_items": "descriptives_items.tsv",
    "anova": "anova.tsv",
    "friedman": "friedman.tsv",
    "posthoc": "posthoc.tsv",
    "mixedlm": "mixedlm.txt",
    "plot_conditions": "ratings_per_condition.png",
    "plot_items": "ratings_per_item.png",
    "html": "summary.html",
    "summary": "stats_summary.json",
}

DESC_COLUMNS = ("condition", "label", "n", "listeners", "mean", "sd", "ci_low", "ci_high",
                "median", "q1", "q3", "iqr", "min", "max")
POSTHOC_COLUMNS = ("condition_a", "condition_b", "n", "mean_a", "mean_b", "mean_diff",
                   "ci_low", "ci_high", "t", "df", "p_t", "p_t_holm", "cohen_dz",
                   "wilcoxon_w", "p_wilcoxon", "p_wilcoxon_holm", "rank_biserial",
                   "significant_t", "significant_wilcoxon")
FRIEDMAN_COLUMNS = ("blocks", "conditions", "chi2", "df", "p", "kendall_w", "note")


@schema_settings("analysis", nested={"screening": ScreeningSettings})
class AnalysisSettings:
    """The statistics of the listening test (config section ``analysis``; defaults from the
    schema): the significance level of every test (confidence intervals are ``1 - alpha``)
    and the listeners' post-screening."""

    alpha: float
    screening: ScreeningSettings


_DEFAULTS = AnalysisSettings()


class StatsError(ValueError):
    """Ratings that cannot be analysed; the message names the file and the problem."""


# ----------------------------------------------------------------------------- input
def load_ratings(path: str | os.PathLike) -> tuple[pd.DataFrame, bool]:
    """``ratings.tsv`` as a DataFrame (rating as float) and whether it is simulated."""
    path = Path(path)
    try:
        title, df = read_table(path)
    except (OSError, ValueError) as exc:
        raise StatsError(f"{path}: cannot read ({exc})") from None
    need = {"listener", "item", "condition", "rating"}
    if not need <= set(df.columns):
        raise StatsError(f"{path}: missing column(s) {', '.join(sorted(need - set(df)))}")
    df["rating"] = pd.to_numeric(df["rating"], errors="coerce")
    bad = df["rating"].isna() | (df["rating"] < 0) | (df["rating"] > 100)
    if bad.any():
        raise StatsError(f"{path}: {int(bad.sum())} rating(s) missing or outside 0-100 "
                         f"(first at data row {int(np.flatnonzero(bad.to_numpy())[0]) + 1})")
    if df.empty:
        raise StatsError(f"{path}: no ratings")
    for col in ("listener", "item", "condition"):
        df[col] = df[col].astype(str)
    simulated = (SIMULATED in title) or (
        "simulated" in df and df["simulated"].astype(str).str.lower().eq("true").any())
    return df, bool(simulated)


def load_survey(path: str | os.PathLike) -> pd.DataFrame:
    """``survey.tsv`` (one row per listener, ``listener`` first) as text columns."""
    path = Path(path)
    try:
        survey = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise StatsError(f"{path}: cannot read ({exc})") from None
    if "listener" not in survey.columns:
        raise StatsError(f"{path}: not a survey table (no 'listener' column)")
    return survey


def condition_order(conditions) -> list[str]:
    """The project's condition order (reference first), unknown names after, sorted."""
    present = set(conditions)
    return [c for c in CONDITIONS if c in present] + sorted(present - set(CONDITIONS))


def _label(c: str) -> str:
    return LABELS.get(c, c)


# ----------------------------------------------------------------------------- design
def complete_design(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The fully crossed listener x item x condition part of ``df`` (duplicates averaged).

    Items on which some condition was never rated are dropped, then listeners missing a
    cell of what remains. Returns the data and notes on what was left out.
    """
    notes: list[str] = []
    cell = df.groupby(["listener", "item", "condition"], as_index=False)["rating"].mean()
    if len(cell) < len(df):
        notes.append(f"{len(df) - len(cell)} duplicate grades averaged")
    conds = set(cell["condition"])
    per_item = cell.groupby("item")["condition"].agg(lambda s: set(s))
    items = [i for i, cs in per_item.items() if cs == conds]
    dropped = sorted(set(per_item.index) - set(items))
    if dropped:
        notes.append(f"items without every condition left out of the ANOVA: "
                     f"{', '.join(dropped)}")
    cell = cell[cell["item"].isin(items)]
    need = len(items) * len(conds)
    counts = cell.groupby("listener").size()
    keep = counts[counts == need].index
    lost = sorted(set(counts.index) - set(keep))
    if lost:
        notes.append(f"listeners without a grade in every cell left out of the ANOVA: "
                     f"{', '.join(lost)}")
    return cell[cell["listener"].isin(keep)].reset_index(drop=True), notes


# ----------------------------------------------------------------------------- statistics
def descriptives(df: pd.DataFrame, alpha: float = _DEFAULTS.alpha, by_item: bool = False
                 ) -> pd.DataFrame:
    """Per condition (or item x condition): n, mean, 95 % t-CI, SD, median, quartiles."""
    keys = (["item", "condition"] if by_item else ["condition"])
    if df.empty:
        return pd.DataFrame(columns=keys[:-1] + list(DESC_COLUMNS))
    order = condition_order(df["condition"])
    rows = []
    groups = df.groupby(keys, sort=False)
    for key, g in groups:
        x = g["rating"].to_numpy(dtype=float)
        lo, hi = mean_ci(x, alpha)
        q1, med, q3 = np.percentile(x, [25, 50, 75])
        cond = key[-1] if isinstance(key, tuple) else key
        row = {"condition": cond, "label": _label(cond), "n": x.size,
               "listeners": g["listener"].nunique(), "mean": x.mean(),
               "sd": x.std(ddof=1) if x.size > 1 else math.nan, "ci_low": lo, "ci_high": hi,
               "median": med, "q1": q1, "q3": q3, "iqr": q3 - q1, "min": x.min(),
               "max": x.max()}
        if by_item:
            row["item"] = key[0]
        rows.append(row)
    out = pd.DataFrame(rows)
    out["_c"] = out["condition"].map({c: i for i, c in enumerate(order)})
    out = out.sort_values((["item"] if by_item else []) + ["_c"]).drop(columns="_c")
    cols = (["item"] if by_item else []) + list(DESC_COLUMNS)
    if by_item and "track" in df:
        tracks = df.groupby("item")["track"].first()
        out.insert(1, "track", out["item"].map(tracks))
        cols.insert(1, "track")
    return out[cols].reset_index(drop=True)


def friedman(cell: pd.DataFrame) -> dict[str, Any]:
    """Friedman test of the conditions with listener x item blocks, and Kendall's W."""
    wide = cell.pivot_table(index=["listener", "item"], columns="condition", values="rating")
    k = wide.shape[1]
    n = wide.shape[0]
    if k < 2 or n < 2:
        return {"blocks": n, "conditions": k, "chi2": math.nan, "df": math.nan,
                "p": math.nan, "kendall_w": math.nan, "note": "fewer than 2 conditions or "
                                                             "blocks"}
    if k == 2:
        chi, p = math.nan, math.nan
        note = "two conditions: see the Wilcoxon test in posthoc.tsv"
    else:
        chi, p = st.friedmanchisquare(*[wide[c].to_numpy() for c in wide.columns])
        note = ""
    return {"blocks": n, "conditions": k, "chi2": float(chi), "df": k - 1, "p": float(p),
            "kendall_w": float(chi) / (n * (k - 1)) if not math.isnan(chi) else math.nan,
            "note": note}


def posthoc(cell: pd.DataFrame, alpha: float = _DEFAULTS.alpha) -> pd.DataFrame:
    """Pairwise paired t and Wilcoxon tests on listener means, Holm-corrected."""
    means = cell.groupby(["listener", "condition"])["rating"].mean().unstack("condition")
    order = condition_order(means.columns)
    rows = [{"condition_a": a, "condition_b": b,
             **paired_test(means[a].to_numpy(float), means[b].to_numpy(float), alpha)}
            for a, b in itertools.combinations(order, 2)]
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=list(POSTHOC_COLUMNS))
    out["p_t_holm"] = holm(out["p_t"].tolist())
    out["p_wilcoxon_holm"] = holm(out["p_wilcoxon"].tolist())
    out["significant_t"] = out["p_t_holm"] < alpha
    out["significant_wilcoxon"] = out["p_wilcoxon_holm"] < alpha
    return out[list(POSTHOC_COLUMNS)]


def assumption_checks(cell: pd.DataFrame) -> dict[str, float]:
    """BS.1534-3 Attachment 4 checks of the ANOVA's assumptions.

    Residuals of the additive model ``listener + condition x item`` (each grade minus its
    cell mean and its listener's offset from the grand mean): skewness and excess kurtosis
    (skewness above 0.5 flags a problem, above 1 suggests a non-parametric route); the
    ratio of the largest to the smallest variance across conditions (up to about 4 is
    acceptable) and the Brown-Forsythe test of equal variances.
    """
    grand = cell["rating"].mean()
    cm = cell.groupby(["condition", "item"])["rating"].transform("mean")
    lm = cell.groupby("listener")["rating"].transform("mean")
    resid = (cell["rating"] - cm - (lm - grand)).to_numpy(float)
    groups = [g["rating"].to_numpy(float) for _, g in cell.groupby("condition")]
    var = [g.var(ddof=1) for g in groups if g.size > 1]
    bf = (st.levene(*groups, center="median") if len(groups) > 1 and
          all(g.size > 1 for g in groups) else None)
    return {
        "residual_skewness": float(st.skew(resid)) if resid.size > 2 else math.nan,
        "residual_excess_kurtosis": float(st.kurtosis(resid)) if resid.size > 3 else math.nan,
        "variance_ratio": (float(max(var) / min(var)) if var and min(var) > 0 else math.nan),
        "brown_forsythe_W": float(bf.statistic) if bf is not None else math.nan,
        "brown_forsythe_p": float(bf.pvalue) if bf is not None else math.nan,
    }


def mixed_model(df: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """``rating ~ condition`` with crossed random intercepts for listener and item.

    statsmodels fits crossed random effects as variance components within one group.
    Returns the summary text and the fixed-effect table.
    """
    import statsmodels.formula.api as smf

    order = condition_order(df["condition"])
    ref = REFERENCE if REFERENCE in order else order[0]
    data = df[["listener", "item", "condition", "rating"]].copy()
    data["group"] = 1
    data["condition"] = pd.Categorical(data["condition"], categories=order)
    formula = f"rating ~ C(condition, Treatment(reference={ref!r}))"
    vc = {"listener": "0 + C(listener)", "item": "0 + C(item)"}
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always")
        model = smf.mixedlm(formula, data, groups="group", re_formula="0", vc_formula=vc)
        res = model.fit(reml=True, method=["lbfgs", "powell"])
        caught = sorted({f"{w.category.__name__}: {w.message}" for w in wlist})
    text = res.summary().as_text()
    fe = pd.DataFrame({"term": res.fe_params.index, "estimate": res.fe_params.values,
                       "se": res.bse_fe.values, "z": res.tvalues[res.fe_params.index].values,
                       "p": res.pvalues[res.fe_params.index].values})
    ci = res.conf_int().loc[res.fe_params.index]
    fe["ci_low"], fe["ci_high"] = ci[0].values, ci[1].values
    note = (f"\nModel: {formula} + (1 | listener) + (1 | item), REML, {len(data)} grades, "
            f"{data['listener'].nunique()} listeners, {data['item'].nunique()} items.\n"
            f"Fixed effects are differences from the {ref!r} condition (grade points); the "
            f"'listener Var' and 'item Var' rows are the variance components of the random "
            f"intercepts; 'Scale' is the residual variance.\nConverged: {res.converged}.\n")
    if caught:
        note += "Fitting warnings:\n" + "\n".join(f"  {c}" for c in caught) + "\n"
    return text + note, fe


# ----------------------------------------------------------------------------- figures
def _plot_conditions(df: pd.DataFrame, desc: pd.DataFrame, path: str | os.PathLike,
                     title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = list(desc["condition"])
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    if not order:
        ax.text(0.5, 0.5, "no grades left after post-screening", ha="center", va="center")
        ax.set_title(title, fontsize=10)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return
    for lo, hi, name in ((80, 100, "Excellent"), (60, 80, "Good"), (40, 60, "Fair"),
                         (20, 40, "Poor"), (0, 20, "Bad")):
        ax.axhline(lo, color="0.85", lw=0.8, zorder=0)
        ax.text(len(order) - 0.5, (lo + hi) / 2, name, va="center", ha="left",
                fontsize=8, color="0.45")
    data = [df.loc[df["condition"] == c, "rating"].to_numpy() for c in order]
    ax.boxplot(data, positions=range(len(order)), widths=0.5, showfliers=False,
               patch_artist=True, boxprops={"facecolor": "#dbe7f3", "edgecolor": "0.5"},
               medianprops={"color": "#1f4e79"}, whiskerprops={"color": "0.5"},
               capprops={"color": "0.5"})
    jitter = np.random.default_rng(0)  # display only
    for i, x in enumerate(data):
        ax.scatter(i + jitter.uniform(-0.18, 0.18, x.size), x, s=6, color="0.35",
                   alpha=0.35, lw=0, zorder=2)
    m = desc["mean"].to_numpy()
    err = np.vstack([m - desc["ci_low"].to_numpy(), desc["ci_high"].to_numpy() - m])
    ax.errorbar(range(len(order)), m, yerr=err, fmt="D", color="#c0392b", ms=6, capsize=5,
                lw=2, zorder=3, label="mean with 95 % CI")
    ax.set_xticks(range(len(order)), [textwrap.fill(_label(c), 12) for c in order])
    ax.set_xlim(-0.6, len(order) + 0.15)
    ax.set_ylim(0, 100)
    ax.set_ylabel("grade (0-100)")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_items(di: pd.DataFrame, path: str | os.PathLike, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if di.empty:
        _plot_conditions(di, di, path, title)
        return
    order = condition_order(di["condition"])
    items = list(pd.unique(di["item"]))
    names = (list(pd.unique(di["track"])) if "track" in di else items)
    fig, ax = plt.subplots(figsize=(max(7, 0.7 * len(items) + 3), 5), constrained_layout=True)
    width = 0.8 / max(1, len(order))
    for j, c in enumerate(order):
        d = di[di["condition"] == c].set_index("item").reindex(items)
        x = np.arange(len(items)) - 0.4 + width * (j + 0.5)
        m = d["mean"].to_numpy(float)
        err = np.vstack([m - d["ci_low"].to_numpy(float), d["ci_high"].to_numpy(float) - m])
        ax.errorbar(x, m, yerr=np.nan_to_num(err), fmt="o", ms=4, capsize=2, lw=1,
                    label=_label(c))
    ax.set_xticks(range(len(items)), names, rotation=45 if len(items) > 6 else 0,
                  ha="right" if len(items) > 6 else "center")
    ax.set_ylim(0, 100)
    ax.set_ylabel("mean grade with 95 % CI")
    ax.set_xlabel("test item")
    ax.legend(fontsize=8, ncol=min(5, len(order)), loc="lower center",
              bbox_to_anchor=(0.5, 1.0))
    ax.set_title(title, fontsize=10, pad=28)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- driver
def _na_table(columns, note: str) -> pd.DataFrame:
    row = {c: math.nan for c in columns}
    key = "note" if "note" in columns else columns[0]
    row[key] = note
    return pd.DataFrame([row], columns=list(columns))


def _html(title: str, sections: list[tuple[str, Any]]) -> str:
    import html

    parts = [f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;font-size:13px;margin:1em}"
             "table{border-collapse:collapse;margin-bottom:1.2em}"
             "td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}"
             "h1{font-size:17px}h2{font-size:14px;margin-top:1.4em}"
             ".sim{color:#b00;font-weight:bold}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    if SIMULATED in title:
        parts.append("<p class='sim'>These ratings come from the SIMULATED listener panel "
                     "(a rating model tied to the objective metrics), not from people. Drop "
                     "real WAET results into listening_test/results/ and rerun.</p>")
    for head, body in sections:
        parts.append(f"<h2>{html.escape(head)}</h2>")
        if isinstance(body, pd.DataFrame):
            parts.append(body.to_html(index=False, float_format=lambda v: f"{v:.4g}",
                                      na_rep=""))
        else:
            parts.append(f"<pre>{html.escape(str(body))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def analyse(ratings_tsv: str | os.PathLike, outputs: Mapping[str, str | os.PathLike], *,
            settings: AnalysisSettings = _DEFAULTS,
            import_summary: str | os.PathLike | None = None,
            survey_tsv: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run the whole analysis; ``outputs`` maps the keys of :data:`OUTPUTS` to paths.

    ``survey_tsv`` (``survey.tsv`` of the import: one row per listener) gives
    ``screening.tsv`` its ``listener_id`` column, joined on ``listener``.
    """
    alpha, screening = settings.alpha, settings.screening
    df, simulated = load_ratings(ratings_tsv)
    survey = load_survey(survey_tsv) if survey_tsv else None
    conf = f"{100 * (1 - alpha):g} %"

    def t(text: str) -> str:
        return title_of(text, simulated)

    screen = post_screening(df, screening, survey)
    excluded = set(screen.loc[screen["excluded"], "listener"])
    for _, r in screen[screen["excluded"]].iterrows():
        log.info("post-screening: listener %s (%s) excluded: %s", r["listener"],
                 r["listener_id"], r["reason"])
    write_table(outputs["screening"], screen.to_dict("records"), SCREENING_COLUMNS,
                simulated=simulated, title=(
                    f"BS.1534-3 post-screening: hidden reference below "
                    f"{screening.reference_below:g} on more than "
                    f"{100 * screening.max_fraction:g} % of items excludes a listener "
                    f"({len(excluded)} of {len(screen)} excluded)"))
    kept = df[~df["listener"].isin(excluded)].copy()
    n_listeners = kept["listener"].nunique()
    summary: dict[str, Any] = {"simulated": simulated, "listeners": int(df["listener"].nunique()),
                               "excluded": sorted(excluded), "listeners_kept": n_listeners,
                               "items": int(kept["item"].nunique()) if len(kept) else 0,
                               "conditions": condition_order(kept["condition"])
                               if len(kept) else [], "alpha": alpha, "notes": []}
    if kept.empty:
        msg = "every listener was excluded by post-screening: nothing left to analyse"
        log.error("%s: %s (see screening.tsv)", ratings_tsv, msg)
        summary["notes"].append(msg)
    desc = descriptives(kept, alpha)
    desc_items = descriptives(kept, alpha, by_item=True)
    write_table(outputs["descriptives"], desc.to_dict("records"), DESC_COLUMNS,
                simulated=simulated, title=(
                    f"Grades per condition (0-100) after post-screening: mean with {conf} "
                    f"t-CI, median and IQR ({n_listeners} listeners)"))
    write_table(outputs["descriptives_items"], desc_items.to_dict("records"),
                list(desc_items.columns), simulated=simulated,
                title=f"Grades per item and condition: mean with {conf} t-CI, median, IQR")

    cell, notes = complete_design(kept)
    summary["notes"].extend(notes)
    for n in notes:
        log.warning("%s", n)
    n_full = cell["listener"].nunique()
    k = cell["condition"].nunique()
    items = cell["item"].nunique()
    if n_full >= 2 and k >= 2:
        within = ["condition", "item"] if items >= 2 else ["condition"]
        anova = rm_anova(cell, within=within)
        fr = friedman(cell)
        ph = posthoc(cell, alpha)
        summary["assumptions"] = assumption_checks(cell)
    else:
        why = (f"not computed: {n_full} listener(s) with complete data and {k} "
               "condition(s); needs at least 2 of each")
        summary["notes"].append(why)
        anova = _na_table(list(ANOVA_COLUMNS) + ["note"], why)
        fr = {c: math.nan for c in FRIEDMAN_COLUMNS} | {"note": why}
        ph = _na_table(list(POSTHOC_COLUMNS) + ["note"], why)
    anova_cols = list(anova.columns)
    write_table(outputs["anova"], anova.to_dict("records"), anova_cols, simulated=simulated,
                title=(f"Repeated-measures ANOVA (within listeners: "
                       f"{' x '.join(['condition', 'item'] if items >= 2 else ['condition'])}"
                       f"; {n_full} listeners, {items} items, {k} conditions) with "
                       "Greenhouse-Geisser and Huynh-Feldt corrections, partial eta squared"))
    write_table(outputs["friedman"], [fr], FRIEDMAN_COLUMNS, simulated=simulated,
                title="Friedman test over conditions (blocks: listener x item), Kendall's W")
    write_table(outputs["posthoc"], ph.to_dict("records"), list(ph.columns),
                simulated=simulated, title=(
                    f"Pairwise post-hoc tests on listener means: paired t and Wilcoxon "
                    f"signed-rank, Holm-corrected, alpha = {alpha:g}"))
    if kept["listener"].nunique() >= 2 and kept["condition"].nunique() >= 2:
        mtext, fe = mixed_model(kept)
    else:
        mtext, fe = "not computed: needs at least 2 listeners and 2 conditions\n", None
    with atomic_path(outputs["mixedlm"]) as tmp:
        tmp.write_text(f"# {t('Linear mixed model of the grades')}\n\n{mtext}")

    _plot_conditions(kept, desc, outputs["plot_conditions"], t(
        f"Listening test: grades per condition, mean with {conf} CI\n"
        f"({n_listeners} listeners after post-screening, {summary['items']} items)"))
    _plot_items(desc_items, outputs["plot_items"], t(
        f"Listening test: grades per item, mean with {conf} CI"))

    imp = {}
    if import_summary and Path(import_summary).is_file():
        imp = json.loads(Path(import_summary).read_text())
    data_rows = pd.DataFrame([
        {"what": "WAET result files read", "value": imp.get("files", "")},
        {"what": "complete sessions", "value": imp.get("complete", "")},
        {"what": "abandoned sessions (not used)", "value": len(imp.get("abandoned", []))},
        {"what": "files skipped (malformed or foreign)", "value": len(imp.get("skipped", []))},
        {"what": "listeners", "value": summary["listeners"]},
        {"what": "excluded by post-screening", "value": len(excluded)},
        {"what": "items", "value": summary["items"]},
        {"what": "conditions", "value": ", ".join(summary["conditions"])},
    ])
    sections: list[tuple[str, Any]] = [
        ("Data", data_rows),
        ("Post-screening (BS.1534-3 4.1.2, rule 1; no mid-range anchor, so rule 2 is not "
         "applied)", screen),
        (f"Grades per condition (mean with {conf} CI, median, IQR)", desc),
        ("Repeated-measures ANOVA", anova),
        ("ANOVA assumptions (BS.1534-3 Attachment 4): residual skewness and excess "
         "kurtosis, variance ratio and Brown-Forsythe test across conditions",
         pd.DataFrame([summary.get("assumptions", {})])),
        ("Friedman test", pd.DataFrame([fr])),
        ("Post-hoc tests (Holm)", ph),
        ("Linear mixed model", mtext),
    ]
    if summary["notes"]:
        sections.insert(1, ("Notes", "\n".join(summary["notes"])))
    with atomic_path(outputs["html"]) as tmp:
        tmp.write_text(_html(t("Listening-test results"), sections))
    if "condition" in set(anova.get("effect", [])):
        row = anova[anova["effect"] == "condition"].iloc[0]
        summary["condition_effect"] = {k2: float(row[k2]) for k2 in
                                       ("F", "df1", "df2", "p", "p_gg", "p_hf",
                                        "partial_eta_sq", "eps_gg", "eps_hf")}
    summary["means"] = {r["condition"]: round(float(r["mean"]), 3) for _, r in desc.iterrows()}
    if fe is not None:
        summary["mixedlm"] = {r["term"]: round(float(r["estimate"]), 4)
                              for _, r in fe.iterrows()}
    write_json(outputs["summary"], summary)
    return summary
