"""Repeated-measures ANOVA with sphericity corrections and effect sizes.

The F tests come from statsmodels' ``AnovaRM`` (condition and item as within-listener
factors, and their interaction: every listener rates every condition on every item, as in
a MUSHRA test; BS.1534-3 Attachment 4). statsmodels gives neither a sphericity correction
nor an effect size, so they are computed here from the data, per effect:

- ``M = Y C``: each listener's cell means ``Y`` (averaged over the factors not in the
  effect) times orthonormal contrasts ``C`` of the effect (for an interaction, the
  Kronecker product of the factors' contrasts); ``p`` contrasts, ``S = cov(M)``.
- Greenhouse-Geisser: ``eps = tr(S)^2 / (p tr(S S))`` (1/p <= eps <= 1).
- Huynh-Feldt: ``eps~ = (n p eps - 2) / (p (n - 1 - p eps))``, capped at 1 (``n``
  listeners, one group; this is also Lecoutre's form for one group, as R's
  ``anova.mlm(test = "Spherical")`` computes it).
- Corrected p-values: the same F on ``eps df1`` and ``eps df2`` degrees of freedom.
- Mauchly's W ``= det(S) / (tr(S)/p)^p``, chi-square approximation with
  ``p(p+1)/2 - 1`` df (undefined when ``n - 1 < p``: S is singular).
- Sums of squares: ``SS_effect = (levels averaged over) * n * |mean(M)|^2`` and
  ``SS_error = (levels averaged over) * tr((M - mean)'(M - mean))``; partial eta squared
  ``= SS_effect / (SS_effect + SS_error)``.
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as st

__all__ = ["orthonormal_contrasts", "sphericity", "rm_anova", "ANOVA_COLUMNS"]

ANOVA_COLUMNS = ("effect", "ss", "ss_error", "df1", "df2", "F", "p", "partial_eta_sq",
                 "eps_gg", "p_gg", "eps_hf", "p_hf", "mauchly_w", "mauchly_p")


def orthonormal_contrasts(k: int) -> np.ndarray:
    """A ``k x (k-1)`` matrix whose columns are orthonormal and orthogonal to ``1``."""
    if k < 2:
        raise ValueError("a factor needs at least two levels")
    h = np.zeros((k, k - 1))
    for j in range(1, k):  # normalised Helmert contrasts
        h[:j, j - 1] = 1.0
        h[j, j - 1] = -float(j)
        h[:, j - 1] /= math.sqrt(j * (j + 1))
    return h


def sphericity(m: np.ndarray) -> dict[str, float]:
    """GG and HF epsilon and Mauchly's test of transformed data ``m`` (n x p).

    ``eps_hf`` is capped at 1 (as used for the corrected p-value); ``eps_hf_raw`` is the
    formula's value.
    """
    n, p = m.shape
    if p == 1:
        return {"eps_gg": 1.0, "eps_hf": 1.0, "eps_hf_raw": 1.0, "mauchly_w": 1.0,
                "mauchly_p": math.nan}
    s = np.cov(m, rowvar=False, ddof=1)
    tr = float(np.trace(s))
    tr2 = float(np.sum(s * s))  # tr(S S) for symmetric S
    gg = tr * tr / (p * tr2) if tr2 > 0 else 1.0
    hf = (n * p * gg - 2.0) / (p * (n - 1 - p * gg)) if (n - 1 - p * gg) != 0 else math.inf
    hf_raw = hf
    if hf < 0:  # tiny n: the formula leaves its range; fall back on GG
        hf = gg
    hf = min(1.0, hf)
    w = chi_p = math.nan
    if n - 1 >= p and tr > 0:
        det = float(np.linalg.det(s))
        w = det / (tr / p) ** p
        if w > 0:
            dfm = p * (p + 1) / 2 - 1
            chi = -(n - 1 - (2 * p * p + p + 2) / (6 * p)) * math.log(w)
            chi_p = float(st.chi2.sf(chi, dfm))
    return {"eps_gg": gg, "eps_hf": hf, "eps_hf_raw": hf_raw, "mauchly_w": w,
            "mauchly_p": chi_p}


def _cube(df: pd.DataFrame, dv: str, subject: str, within: Sequence[str]
          ) -> tuple[np.ndarray, list[list]]:
    levels = [list(pd.unique(df[w].sort_values())) if not isinstance(
        df[w].dtype, pd.CategoricalDtype) else list(df[w].cat.categories) for w in within]
    subjects = list(pd.unique(df[subject]))
    idx = pd.MultiIndex.from_product([subjects, *levels], names=[subject, *within])
    cells = df.groupby([subject, *within], observed=True)[dv].mean().reindex(idx)
    if cells.isna().any():
        raise ValueError("unbalanced data: every subject needs a value in every cell")
    shape = [len(subjects)] + [len(lv) for lv in levels]
    return cells.to_numpy(dtype=float).reshape(shape), levels


def rm_anova(df: pd.DataFrame, dv: str = "rating", subject: str = "listener",
             within: Sequence[str] = ("condition", "item")) -> pd.DataFrame:
    """Univariate repeated-measures ANOVA table (one row per effect, ANOVA_COLUMNS).

    ``df`` must be balanced (one value per subject and cell; duplicates are averaged).
    """
    from statsmodels.stats.anova import AnovaRM

    within = list(within)
    data = df[[subject, *within, dv]].copy()
    for w in within:  # AnovaRM wants plain labels
        data[w] = data[w].astype(str)
    data[subject] = data[subject].astype(str)
    fit = AnovaRM(data, depvar=dv, subject=subject, within=within,
                  aggregate_func="mean").fit()
    table = fit.anova_table
    y, levels = _cube(data, dv, subject, within)
    n = y.shape[0]
    rows = []
    for r in range(1, len(within) + 1):
        for combo in itertools.combinations(range(len(within)), r):
            name = ":".join(within[i] for i in combo)
            others = tuple(i + 1 for i in range(len(within)) if i not in combo)
            ym = y.mean(axis=others) if others else y
            reps = int(np.prod([len(levels[i]) for i in range(len(within))
                                if i not in combo]))
            c = orthonormal_contrasts(len(levels[combo[0]]))
            for i in combo[1:]:
                c = np.kron(c, orthonormal_contrasts(len(levels[i])))
            m = ym.reshape(n, -1) @ c
            p = m.shape[1]
            mean = m.mean(axis=0)
            ss = reps * n * float(mean @ mean)
            resid = m - mean
            ss_err = reps * float(np.sum(resid * resid))
            f_val = float(table.loc[name, "F Value"])
            df1 = float(table.loc[name, "Num DF"])
            df2 = float(table.loc[name, "Den DF"])
            sph = sphericity(m)
            rows.append({
                "effect": name, "ss": ss, "ss_error": ss_err, "df1": df1, "df2": df2,
                "F": f_val, "p": float(table.loc[name, "Pr > F"]),
                "partial_eta_sq": ss / (ss + ss_err) if ss + ss_err > 0 else math.nan,
                "eps_gg": sph["eps_gg"],
                "p_gg": float(st.f.sf(f_val, sph["eps_gg"] * df1, sph["eps_gg"] * df2)),
                "eps_hf": sph["eps_hf"],
                "p_hf": float(st.f.sf(f_val, sph["eps_hf"] * df1, sph["eps_hf"] * df2)),
                "mauchly_w": sph["mauchly_w"], "mauchly_p": sph["mauchly_p"],
            })
            assert p == df1, (name, p, df1)
    return pd.DataFrame(rows, columns=list(ANOVA_COLUMNS))
