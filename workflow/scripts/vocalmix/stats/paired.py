"""Paired comparisons of two conditions measured on the same units.

The listening test's post-hoc tests compare conditions on the listeners' mean grades
(:func:`vocalmix.stats.analysis.posthoc`); the objective evaluation compares the systems'
errors on the same songs (:func:`vocalmix.evaluation.objective.paired_comparisons`). Both
use :func:`paired_test` on each pair and :func:`holm` over a family of pairs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["PAIRED_COLUMNS", "paired_test", "holm", "mean_ci"]

#: The keys of :func:`paired_test`'s result, in table order.
PAIRED_COLUMNS = ("n", "mean_a", "mean_b", "mean_diff", "ci_low", "ci_high", "t", "df", "p_t",
                  "cohen_dz", "wilcoxon_w", "p_wilcoxon", "rank_biserial")


def mean_ci(x: np.ndarray, alpha: float) -> tuple[float, float]:
    """The ``1 - alpha`` Student-t confidence interval of the mean of ``x`` (NaN under two
    values)."""
    from scipy import stats as st

    n = x.size
    if n < 2:
        return math.nan, math.nan
    half = st.t.ppf(1 - alpha / 2, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return float(x.mean() - half), float(x.mean() + half)


def paired_test(x: ArrayLike, y: ArrayLike, alpha: float = 0.05) -> dict:
    """Paired t-test and Wilcoxon signed-rank test of ``x - y``.

    Parameters
    ----------
    x, y : array_like
        The two conditions' values on the same units (unit ``k`` is ``x[k]`` and ``y[k]``).
    alpha : float
        Significance level: the interval of the mean difference is ``1 - alpha``.

    Returns
    -------
    dict
        :data:`PAIRED_COLUMNS`: the number of units, both means and the mean difference
        ``x - y`` with its t interval; ``t``, ``df``, ``p_t`` and Cohen's d_z (NaN where
        the differences have no spread or there are under two units); Wilcoxon's ``W``,
        ``p_wilcoxon`` (scipy's default: exact for small samples without ties or zeros) and
        the rank-biserial correlation (positive: ``x`` mostly larger; NaN where every
        difference is zero).
    """
    from scipy import stats as st

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of one length, got {x.shape} and {y.shape}")
    d = x - y
    n = d.size
    row = {"n": n, "mean_a": float(x.mean()) if n else math.nan,
           "mean_b": float(y.mean()) if n else math.nan,
           "mean_diff": float(d.mean()) if n else math.nan}
    if n >= 2 and d.std(ddof=1) > 0:
        t, p = st.ttest_rel(x, y)
        lo, hi = mean_ci(d, alpha)
        row.update(ci_low=lo, ci_high=hi, t=float(t), df=n - 1, p_t=float(p),
                   cohen_dz=float(d.mean() / d.std(ddof=1)))
    else:
        row.update(ci_low=math.nan, ci_high=math.nan, t=math.nan, df=max(n - 1, 0),
                   p_t=math.nan, cohen_dz=math.nan)
    nz = d[d != 0]
    if nz.size >= 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = st.wilcoxon(x, y)
        ranks = st.rankdata(np.abs(nz))
        wp, wm = ranks[nz > 0].sum(), ranks[nz < 0].sum()
        row.update(wilcoxon_w=float(w.statistic), p_wilcoxon=float(w.pvalue),
                   rank_biserial=float((wp - wm) / (wp + wm)))
    else:
        row.update(wilcoxon_w=math.nan, p_wilcoxon=math.nan, rank_biserial=math.nan)
    return {k: row[k] for k in PAIRED_COLUMNS}


def holm(p: ArrayLike) -> list[float]:
    """Holm-adjusted p-values (statsmodels ``multipletests``) of the family ``p``; NaN
    entries (tests that could not be made) stay NaN and do not count in the family."""
    from statsmodels.stats.multitest import multipletests

    arr = np.asarray(p, dtype=float)
    out = np.full(arr.shape, np.nan)
    ok = ~np.isnan(arr)
    if ok.any():
        out[ok] = multipletests(arr[ok], method="holm")[1]
    return out.tolist()
