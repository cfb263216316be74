"""Objective evaluation of the rendered conditions (rules ``evaluate_track``, ``evaluate``).

Every condition of a track is compared with the track's ``professional`` render, both as
the listener gets them (the same excerpt, loudness-normalised), except the mix loudness,
which the normalisation equalises: it is compared as the systems made it, on the same
excerpt before the normalisation. Metrics, all absolute differences (0 for identical
signals):
====================  =====  ================================================================
column                unit   definition
====================  =====  ================================================================
loudness_error_lu     LU     integrated loudness (ITU-R BS.1770-4) of the condition's mix vs
                             the reference mix's, both measured on the excerpt before the
                             listening normalisation (the render JSON's
                             ``unnormalised_lufs``); DeepAFx-ST's "LUFS" metric
balance_error_lu      LU     vocal-to-backing loudness ratio (BS.1770 integrated loudness of
                             the vocal stem minus the backing stem, as they sit in the mix)
                             vs the reference's
lra_error_lu          LU     EBU Tech 3342 loudness range of the vocal stem vs the reference's
mel_distance_db       dB     mean absolute difference of the mixes' log-mel spectrograms
                             (128 bands, 2048-point frames, hop 512; mono sum; each cell
                             floored at 80 dB below the reference's loudest cell)
centroid_error_hz     Hz     mean over the reference's non-silent frames of the absolute
                             difference of the mixes' spectral centroids
mrstft_distance       --     multi-resolution STFT distance: spectral convergence plus mean
                             absolute log-magnitude difference, averaged over 512/1024/2048-
                             point frames (hop a quarter frame)
t60_error_pct         %      mid-band T60 of the project's reverb fitted by the genetic
                             algorithm to the vocal stem (blind estimate as target, the
                             features stage's procedure) vs the same for the reference
====================  =====  ================================================================

The mix metrics (loudness, mel, centroid, MR-STFT) need only the mixes; the stem metrics
(balance, LRA, T60) need stems: a supplied commercial render (no stems) or a supplied
professional mix leaves them NaN. Loudness, mel distance, MR-STFT and centroid error are
DeepAFx-ST's metric set (Steinmetz, Bryan & Reiss, "Style transfer of audio effects with
differentiable signal processing", JAES 70(9), 2022; ``deepafx_st/metrics.py``: LUFS, MSD,
MRSTFT, SCE; its PESQ, crest-factor and RMS errors are not computed here), with this
project's frame settings.

Tables, each with a ``dataset`` column (the track's dataset, ``tracks.tsv``):
``per_track.tsv`` (one row per track and condition); ``summary.tsv`` (:func:`summarise`:
per dataset -- one block per dataset, then the block ``all`` over every dataset -- condition
and metric: mean, median, a 95% confidence interval of the mean (Student t) and n); and the
objective table (:func:`objective_table`: rows dataset x condition, columns the DeepAFx-ST
set then the balance, LRA and T60 errors, means, and the number of tracks).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import read_audio
from vocalmix.conditions import CONDITIONS, LABELS, REFERENCE
from vocalmix.files import read_json, save_figure

log = logging.getLogger(__name__)

__all__ = ["METRICS", "TABLE_METRICS", "ALL", "balance_lu", "loudness_error_lu",
           "unnormalised_lufs", "mel_distance_db", "centroid_error_hz", "mrstft_distance",
           "fitted_t60", "compare", "evaluate_track", "summarise", "objective_table",
           "objective_table_html", "paired_comparisons", "COMPARISON_COLUMNS",
           "comparisons_html", "plot_metrics"]

#: (column, unit, label) of every metric, in table order: the loudness metrics (mix, then
#: the vocal's balance and range), the spectral ones, the reverb.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("loudness_error_lu", "LU", "mix integrated-loudness error"),
    ("balance_error_lu", "LU", "vocal-to-backing loudness error"),
    ("lra_error_lu", "LU", "vocal loudness-range error"),
    ("mel_distance_db", "dB", "mel-spectral distance"),
    ("centroid_error_hz", "Hz", "spectral-centroid error"),
    ("mrstft_distance", "", "multi-resolution STFT distance"),
    ("t60_error_pct", "%", "reverb mid-band T60 error"),
)

#: Columns of the objective table: DeepAFx-ST's set (LUFS, MSD, MRSTFT, SCE), then the
#: project's balance, LRA and T60 errors.
TABLE_METRICS: tuple[str, ...] = ("loudness_error_lu", "mel_distance_db", "mrstft_distance",
                                  "centroid_error_hz", "balance_error_lu", "lra_error_lu",
                                  "t60_error_pct")

#: The block of ``summary.tsv`` and of the objective table over every dataset together.
ALL = "all"

MEL = {"n_fft": 2048, "hop": 512, "n_mels": 128}
MEL_FLOOR_DB = 80.0
CENTROID_SILENCE_DB = 60.0
MRSTFT_SIZES = (512, 1024, 2048)


def _mono(x: NDArray) -> NDArray[np.float32]:
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    return x.mean(axis=0)


def balance_lu(vocal: NDArray, backing: NDArray, sample_rate: int) -> float:
    """Vocal-to-backing ratio (LU): integrated loudness of the vocal minus the backing's."""
    from vocalmix.measure.loudness import integrated_loudness

    return float(integrated_loudness(vocal, sample_rate)
                 - integrated_loudness(backing, sample_rate))


def loudness_error_lu(x: NDArray, reference: NDArray, sample_rate: int) -> float:
    """Integrated-loudness error (LU) of a mix against a reference mix (DeepAFx-ST's LUFS).

    Parameters
    ----------
    x, reference : np.ndarray [shape=(channels, samples), float]
        The two mixes at their own levels (not loudness-normalised: a normalisation
        equalises exactly what this measures).
    sample_rate : int
        Their sample rate (Hz).

    Returns
    -------
    float
        ``|L(x) - L(reference)|`` with ``L`` the ITU-R BS.1770-4 integrated loudness
        (LUFS); NaN where either is silent (no block above the absolute gate).
    """
    from vocalmix.measure.loudness import integrated_loudness

    return _lufs_difference(integrated_loudness(x, sample_rate),
                            integrated_loudness(reference, sample_rate))


def _lufs_difference(a: float, b: float) -> float:
    a, b = float(a), float(b)
    return abs(a - b) if math.isfinite(a) and math.isfinite(b) else math.nan


def unnormalised_lufs(info: dict) -> float:
    """A render's mix loudness before the listening normalisation (LUFS), from its JSON.

    Parameters
    ----------
    info : dict
        The render JSON (rule ``render``).

    Returns
    -------
    float
        ``info["unnormalised_lufs"]`` where the render recorded it. A JSON written before it
        was recorded: the normalised loudness minus the normalisation's gain
        (``info["normalisation"]``), exact when the bus limiter did not act (a gain shifts
        integrated loudness by itself); NaN, with a warning, when it did or when neither is
        there.
    """
    if info.get("unnormalised_lufs") is not None:
        return float(info["unnormalised_lufs"])
    norm = info.get("normalisation") or {}
    name = f"{info.get('track')}/{info.get('condition')}"
    if norm.get("limited") is False and {"integrated_lufs", "gain_db"} <= set(norm):
        return float(norm["integrated_lufs"]) - float(norm["gain_db"])
    log.warning("%s: no loudness before the listening normalisation in the render JSON%s; "
                "its mix loudness error is left out (rerun rule render)", name,
                " and the limiter acted" if norm.get("limited") else "")
    return math.nan


def _mel_db(x: NDArray, sample_rate: int) -> NDArray:
    from vocalmix.measure.mel import LogMel

    return LogMel(sample_rate, **MEL)(_mono(x)).astype(np.float64)


def mel_distance_db(x: NDArray, reference: NDArray, sample_rate: int) -> float:
    """Mean absolute log-mel difference (dB), cells floored 80 dB below the reference's
    loudest."""
    a, b = _mel_db(x, sample_rate), _mel_db(reference, sample_rate)
    n = min(a.shape[1], b.shape[1])
    floor = float(b.max()) - MEL_FLOOR_DB
    return float(np.mean(np.abs(np.maximum(a[:, :n], floor) - np.maximum(b[:, :n], floor))))


def _stft_mag(x: NDArray, n_fft: int, hop: int) -> NDArray:
    from scipy import fft

    x = np.pad(_mono(x).astype(np.float64), (n_fft // 2, n_fft // 2))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return np.abs(fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1))


def _centroids(x: NDArray, sample_rate: int) -> tuple[NDArray, NDArray]:
    mag = _stft_mag(x, 2048, 512)
    power = mag ** 2
    freqs = np.fft.rfftfreq(2048, 1.0 / sample_rate)
    energy = power.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (power @ freqs) / energy
    return c, energy


def centroid_error_hz(x: NDArray, reference: NDArray, sample_rate: int) -> float:
    """Mean |centroid(x) - centroid(reference)| (Hz) over the reference's frames within
    60 dB of its most energetic frame."""
    cx, ex = _centroids(x, sample_rate)
    cr, er = _centroids(reference, sample_rate)
    n = min(cx.size, cr.size)
    keep = er[:n] > er.max() * 10 ** (-CENTROID_SILENCE_DB / 10)
    keep &= np.isfinite(cx[:n]) & (ex[:n] > 0)
    if not keep.any():
        return math.nan
    return float(np.mean(np.abs(cx[:n][keep] - cr[:n][keep])))


def mrstft_distance(x: NDArray, reference: NDArray, sample_rate: int | None = None,
                    sizes: tuple[int, ...] = MRSTFT_SIZES) -> float:
    """Mean over frame sizes of spectral convergence ||R - X|| / ||R|| plus the mean
    absolute difference of log magnitudes (natural log, 1e-7 floor)."""
    total = 0.0
    for n_fft in sizes:
        a = _stft_mag(x, n_fft, n_fft // 4)
        b = _stft_mag(reference, n_fft, n_fft // 4)
        n = min(a.shape[0], b.shape[0])
        a, b = a[:n], b[:n]
        sc = np.linalg.norm(b - a) / max(np.linalg.norm(b), 1e-12)
        lm = np.mean(np.abs(np.log(a + 1e-7) - np.log(b + 1e-7)))
        total += sc + lm
    return float(total / len(sizes))


def fitted_t60(vocal: NDArray, sample_rate: int, *, seed: int, settings: dict) -> float:
    """Mid-band T60 (s) of the project's reverb fitted to ``vocal`` from its blind
    estimate (NaN where no free decay is found)."""
    from vocalmix.features.reverb_fit import fit_wet

    try:
        fit = fit_wet(vocal, sample_rate, seed=seed,
                      max_evaluations=int(settings["max_evaluations"]),
                      population=int(settings["population"]))
    except ValueError:
        return math.nan
    return float(fit.fitted.t60_mid_s)


def _mix_lufs(item: dict, sample_rate: int) -> float:
    if "unnormalised_lufs" in item:
        return float(item["unnormalised_lufs"])
    from vocalmix.measure.loudness import integrated_loudness

    return float(integrated_loudness(item["mix"], sample_rate))


def compare(cond: dict, ref: dict, sample_rate: int) -> dict:
    """Metrics of one condition against the reference.

    Parameters
    ----------
    cond, ref : dict
        Each with ``mix`` (np.ndarray [shape=(channels, samples)]) and, where known,
        ``vocal``/``backing`` stems (same shape), ``t60_s`` (the fitted mid-band T60, s) and
        ``unnormalised_lufs`` (the mix's integrated loudness before any loudness
        normalisation, LUFS; measured from ``mix`` where absent, so give it whenever ``mix``
        has been normalised).
    sample_rate : int
        Sample rate of every signal (Hz).

    Returns
    -------
    dict
        Every column of :data:`METRICS`, plus the condition's own ``unnormalised_lufs``,
        ``balance_lu``, ``vocal_lra_lu`` and ``t60_s``; stem metrics NaN without stems.
    """
    lufs = _mix_lufs(cond, sample_rate)
    out = {"unnormalised_lufs": lufs,
           "loudness_error_lu": _lufs_difference(lufs, _mix_lufs(ref, sample_rate)),
           "mel_distance_db": mel_distance_db(cond["mix"], ref["mix"], sample_rate),
           "centroid_error_hz": centroid_error_hz(cond["mix"], ref["mix"], sample_rate),
           "mrstft_distance": mrstft_distance(cond["mix"], ref["mix"], sample_rate)}
    stems = cond.get("vocal") is not None and ref.get("vocal") is not None
    if stems:
        from vocalmix.measure.loudness import loudness_range

        out["balance_lu"] = balance_lu(cond["vocal"], cond["backing"], sample_rate)
        out["balance_error_lu"] = abs(out["balance_lu"] - balance_lu(ref["vocal"],
                                                                      ref["backing"],
                                                                      sample_rate))
        out["vocal_lra_lu"] = loudness_range(cond["vocal"], sample_rate)
        out["lra_error_lu"] = abs(out["vocal_lra_lu"] - loudness_range(ref["vocal"],
                                                                        sample_rate))
    else:
        out.update(balance_lu=math.nan, balance_error_lu=math.nan, vocal_lra_lu=math.nan,
                   lra_error_lu=math.nan)
    t, tr = cond.get("t60_s", math.nan), ref.get("t60_s", math.nan)
    out["t60_s"] = t
    out["t60_error_pct"] = (100.0 * abs(t / tr - 1.0)
                            if all(np.isfinite([t, tr])) and tr > 0 else math.nan)
    return out


def _load(paths: dict, sample_rate: int) -> dict:
    info = read_json(paths["json"])
    item = {"mix": read_audio(paths["audio"], sample_rate=sample_rate)[0], "info": info,
            "unnormalised_lufs": unnormalised_lufs(info)}
    if info.get("stems_known"):
        item["vocal"] = read_audio(paths["vocal"], sample_rate=sample_rate)[0]
        item["backing"] = read_audio(paths["backing"], sample_rate=sample_rate)[0]
    return item


def evaluate_track(track: str, renders: dict[str, dict], sample_rate: int, *, seed: int,
                   reverb: dict, dataset: str) -> list[dict]:
    """One row per condition of ``track``.

    Parameters
    ----------
    track : str
        The track id.
    renders : dict
        Condition -> paths of its render: ``json``, ``audio`` and, where the JSON says
        ``stems_known``, ``vocal`` and ``backing``.
    sample_rate : int
        The pipeline's sample rate (Hz); every file is read at it.
    seed : int
        ``config.seed``; the reverb fits draw from a seed derived from it and ``track``.
    reverb : dict
        The reverb fit's settings (``features.reverb``: ``max_evaluations``,
        ``population``).
    dataset : str
        The track's dataset (``tracks.tsv``), written in every row.

    Returns
    -------
    list of dict
        ``track``, ``dataset``, ``condition``, ``source``, ``genre``, the metrics of
        :data:`METRICS`, ``balance_lu``, ``vocal_lra_lu``, ``t60_s``, ``unnormalised_lufs``,
        and the stimulus's ``integrated_lufs`` and ``true_peak_dbtp``, in condition order.
    """
    from vocalmix.seeding import derive_seed

    if REFERENCE not in renders:
        raise ValueError(f"{track}: no {REFERENCE} render to compare with")
    items = {c: _load(p, sample_rate) for c, p in renders.items()}
    for c, item in items.items():
        item["t60_s"] = (fitted_t60(item["vocal"], sample_rate,
                                    seed=derive_seed(seed, "evaluate_t60", track),
                                    settings=reverb)
                         if item.get("vocal") is not None else math.nan)
    ref = items[REFERENCE]
    rows = []
    for c in CONDITIONS:
        if c not in items:
            continue
        m = compare(items[c], ref, sample_rate)
        info = items[c]["info"]
        rows.append({"track": track, "dataset": dataset, "condition": c,
                     "source": info.get("source"), "genre": info.get("genre"),
                     **{k: m[k] for k, _, _ in METRICS},
                     "balance_lu": m["balance_lu"], "vocal_lra_lu": m["vocal_lra_lu"],
                     "t60_s": m["t60_s"], "unnormalised_lufs": m["unnormalised_lufs"],
                     "integrated_lufs": info.get("integrated_lufs"),
                     "true_peak_dbtp": info.get("true_peak_dbtp")})
    return rows


def _blocks(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """(name, rows) of every dataset in name order, then :data:`ALL` with every row; rows
    without a dataset (tables from before the split) give the :data:`ALL` block only."""
    named = {r.get("dataset") or None for r in rows}
    if None in named and len(named) > 1:
        raise ValueError("some rows have a dataset and some do not: the per-track tables "
                         "come from different versions of rule evaluate_track; rerun it")
    names = sorted(n for n in named if n is not None)
    if ALL in names:
        raise ValueError(f"a dataset is named {ALL!r}, the name of the block over every "
                         "dataset: rename it in config.datasets (name)")
    return [(n, [r for r in rows if r.get("dataset") == n]) for n in names] + [(ALL, rows)]


def _finite(rows: list[dict], metric: str) -> np.ndarray:
    v = np.array([r.get(metric, math.nan) for r in rows], dtype=float)
    return v[np.isfinite(v)]


def summarise(rows: list[dict]) -> list[dict]:
    """Statistics of every metric per dataset and condition.

    Parameters
    ----------
    rows : list of dict
        Rows of ``per_track.tsv`` (:func:`evaluate_track`): ``dataset``, ``condition`` and
        the metric columns (NaN or absent: not measured).

    Returns
    -------
    list of dict
        One block per dataset (in name order), then the block :data:`ALL` over every row;
        within a block, the conditions present in it (in :data:`CONDITIONS` order), each
        with every metric of :data:`METRICS`: ``dataset``, ``condition``, ``metric``,
        ``unit``, ``mean``, ``median``, ``ci95_low``, ``ci95_high`` (Student t, NaN for one
        value) and ``n`` (the finite values; statistics None when there is none).
    """
    from scipy import stats

    out = []
    for dataset, block in _blocks(rows):
        for c in CONDITIONS:
            sub = [r for r in block if r["condition"] == c]
            if not sub:
                continue
            for metric, unit, _ in METRICS:
                v = _finite(sub, metric)
                n = int(v.size)
                rec = {"dataset": dataset, "condition": c, "metric": metric, "unit": unit}
                if n == 0:
                    out.append({**rec, "mean": None, "median": None, "ci95_low": None,
                                "ci95_high": None, "n": 0})
                    continue
                mean = float(v.mean())
                if n > 1 and np.std(v) > 0:
                    half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n))
                else:
                    half = 0.0 if n > 1 else math.nan
                out.append({**rec, "mean": mean, "median": float(np.median(v)),
                            "ci95_low": mean - half, "ci95_high": mean + half, "n": n})
    return out


def objective_table(rows: list[dict]) -> list[dict]:
    """The objective table: mean errors per dataset and condition.

    Parameters
    ----------
    rows : list of dict
        Rows of ``per_track.tsv`` (as for :func:`summarise`).

    Returns
    -------
    list of dict
        One row per dataset and condition present (datasets in name order, then
        :data:`ALL` where there is more than one dataset; conditions in
        :data:`CONDITIONS` order): ``dataset``, ``condition``, ``n_tracks`` (tracks with
        that condition), then the mean over its finite values of every column of
        :data:`TABLE_METRICS` (None where there is none; ``summary.tsv`` has each
        metric's n).
    """
    blocks = _blocks(rows)
    if len(blocks) <= 2:  # one dataset (or none named): its block and ALL hold the same rows
        blocks = blocks[:1]
    out = []
    for dataset, block in blocks:
        for c in CONDITIONS:
            sub = [r for r in block if r["condition"] == c]
            if not sub:
                continue
            rec = {"dataset": dataset, "condition": c,
                   "n_tracks": len({r["track"] for r in sub})}
            for metric in TABLE_METRICS:
                v = _finite(sub, metric)
                rec[metric] = float(v.mean()) if v.size else None
            out.append(rec)
    return out


#: Columns of :func:`paired_comparisons` (``comparisons.tsv``).
COMPARISON_COLUMNS = ("dataset", "metric", "unit", "condition_a", "condition_b", "n",
                      "mean_a", "mean_b", "mean_diff", "ci_low", "ci_high", "t", "df", "p_t",
                      "p_t_holm", "cohen_dz", "wilcoxon_w", "p_wilcoxon", "p_wilcoxon_holm",
                      "rank_biserial", "lower", "significant")


def paired_comparisons(rows: list[dict], alpha: float = 0.05) -> list[dict]:
    """Which condition's errors are lower, song by song: paired tests of every pair of
    conditions but the professional mix (whose errors are 0 by definition), per dataset and
    metric.

    The means of the objective table say which condition is lower on average; a handful of
    songs can make that order. Here each song is a unit measured under both conditions of
    a pair (songs missing either value are left out of that pair): the mean difference
    ``a - b`` with its ``1 - alpha`` t interval, the paired t-test and the Wilcoxon
    signed-rank test (:func:`vocalmix.stats.paired.paired_test`), Holm-corrected over the
    pairs of one dataset and metric (the family of :func:`vocalmix.stats.analysis.posthoc`
    too). ``lower`` names the condition with the lower errors where the Holm-corrected
    Wilcoxon test is significant at ``alpha``, else "neither" (the rank test: one song's
    outlying error cannot decide it); ``significant`` says the same as a boolean.

    Parameters
    ----------
    rows : list of dict
        Rows of ``per_track.tsv`` (as for :func:`summarise`): ``track``, ``dataset``,
        ``condition`` and the metric columns.
    alpha : float
        Significance level (config ``analysis.alpha``).

    Returns
    -------
    list of dict
        :data:`COMPARISON_COLUMNS`, one row per dataset (in name order, then :data:`ALL`
        where there is more than one), metric (:data:`TABLE_METRICS` order) and pair
        (conditions in :data:`CONDITIONS` order, ``condition_a`` the earlier one).
    """
    import itertools

    from vocalmix.stats.paired import holm, paired_test

    units = {m: unit for m, unit, _ in METRICS}
    blocks = _blocks(rows)
    if len(blocks) <= 2:  # one dataset (or none named): its block and ALL hold the same rows
        blocks = blocks[:1]
    out = []
    for dataset, block in blocks:
        present = [c for c in CONDITIONS if c != REFERENCE
                   and any(r["condition"] == c for r in block)]
        for metric in TABLE_METRICS:
            def values(c: str) -> dict:
                found = {}
                for r in block:
                    v = r.get(metric)
                    if r["condition"] == c and v is not None and math.isfinite(float(v)):
                        found[(r.get("dataset"), r["track"])] = float(v)
                return found

            family = []
            for a, b in itertools.combinations(present, 2):
                va, vb = values(a), values(b)
                both = sorted(set(va) & set(vb))
                if not both:
                    continue
                test = paired_test([va[k] for k in both], [vb[k] for k in both], alpha)
                family.append({"dataset": dataset, "metric": metric, "unit": units[metric],
                               "condition_a": a, "condition_b": b, **test})
            for key in ("p_t", "p_wilcoxon"):
                for row, adj in zip(family, holm([r[key] for r in family])):
                    row[f"{key}_holm"] = adj
            for row in family:
                significant = bool(row["p_wilcoxon_holm"] < alpha)  # NaN compares False
                row["significant"] = significant
                row["lower"] = ("neither" if not significant else
                                row["condition_a"] if row["mean_diff"] < 0 else
                                row["condition_b"])
                out.append({k: row[k] for k in COMPARISON_COLUMNS})
    return out


def comparisons_html(comparisons: list[dict], *, title: str) -> str:
    """:func:`paired_comparisons` as an HTML page for Snakemake's report: per dataset, a
    table of the pairs (rows) by the metrics (columns), each cell the mean difference
    ``a - b`` with its interval and the Holm-corrected Wilcoxon p, bold where significant
    (negative: ``a``'s errors are lower)."""
    import html

    labels = {m: (unit, label) for m, unit, label in METRICS}
    metrics = [m for m in TABLE_METRICS if any(c["metric"] == m for c in comparisons)]
    head = ("<tr><th>condition a</th><th>condition b</th>" + "".join(
        f"<th>{html.escape(labels[m][1])}"
        + (f" ({html.escape(labels[m][0])})" if labels[m][0] else "") + "</th>"
        for m in metrics) + "</tr>")
    parts = []
    for dataset in dict.fromkeys(c["dataset"] for c in comparisons):
        cells: dict = {}
        for c in comparisons:
            if c["dataset"] == dataset:
                cells.setdefault((c["condition_a"], c["condition_b"]), {})[c["metric"]] = c
        body = []
        for (a, b), by_metric in cells.items():
            tds = []
            for m in metrics:
                c = by_metric.get(m)
                if c is None:
                    tds.append("<td></td>")
                    continue
                d = _HTML_DECIMALS[labels[m][0]]
                text = f"{c['mean_diff']:+.{d}f}"
                if math.isfinite(c["ci_low"]):
                    text += f" [{c['ci_low']:+.{d}f}, {c['ci_high']:+.{d}f}]"
                p = c["p_wilcoxon_holm"]
                text += (f" <small>p={p:.3f}, n={c['n']}</small>" if math.isfinite(p)
                         else f" <small>n={c['n']}</small>")
                tds.append(f"<td><b>{text}</b></td>" if c["significant"] else f"<td>{text}</td>")
            body.append(f"<tr><td>{html.escape(LABELS[a])}</td><td>{html.escape(LABELS[b])}"
                        "</td>" + "".join(tds) + "</tr>")
        parts += [f"<h2>{html.escape(str(dataset))}</h2>", "<table>", head, *body, "</table>"]
    return _html_page(
        title, "Song by song, the error of condition a minus that of condition b (the "
        "objective table's metrics; negative: a is closer to the professional mix), its mean "
        "with the t interval and the Holm-corrected Wilcoxon signed-rank p over the pairs of "
        "each metric. Bold: significant, so the lower mean is not the work of a few songs.",
        parts, css="h2{font-size:14px}")


def _html_page(title: str, intro: str, parts: list[str], css: str = "") -> str:
    """A standalone report page: ``title`` as its heading, the paragraph ``intro``, then
    ``parts`` (HTML), in the objective pages' style plus ``css``."""
    import html

    return "\n".join([
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;font-size:13px;margin:1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px}"
        "td{text-align:right}td:nth-child(-n+2){text-align:left}"
        f"h1{{font-size:16px}}{css}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>", f"<p>{intro}</p>",
        *parts, "</body></html>", ""])


#: Decimals of each metric in the HTML table (the TSV keeps 4).
_HTML_DECIMALS = {"LU": 2, "dB": 2, "Hz": 0, "": 3, "%": 1}


def objective_table_html(table: list[dict], summary: list[dict], *, title: str) -> str:
    """The objective table as an HTML page for Snakemake's report.

    Parameters
    ----------
    table : list of dict
        :func:`objective_table`'s rows.
    summary : list of dict
        :func:`summarise`'s rows of the same per-track rows: a mean over fewer tracks than
        the row's ``n_tracks`` shows its n.
    title : str
        The page's heading.

    Returns
    -------
    str
        A standalone HTML document: one table, the DeepAFx-ST columns first, lower is
        better everywhere.
    """
    import html

    units = {m: (unit, label) for m, unit, label in METRICS}
    n_of = {(s["dataset"], s["condition"], s["metric"]): s["n"] for s in summary}
    deepafx = TABLE_METRICS[:4]
    head = ["<tr><th rowspan='2'>dataset</th><th rowspan='2'>condition</th>"
            "<th rowspan='2'>tracks</th>"
            f"<th colspan='{len(deepafx)}'>DeepAFx-ST metric set (mix)</th>"
            f"<th colspan='{len(TABLE_METRICS) - len(deepafx)}'>vocal (stems)</th></tr>",
            "<tr>" + "".join(
                f"<th>{html.escape(units[m][1])}"
                + (f" ({html.escape(units[m][0])})" if units[m][0] else "") + "</th>"
                for m in TABLE_METRICS) + "</tr>"]
    body = []
    for r in table:
        cells = [html.escape(str(r["dataset"])), html.escape(LABELS[r["condition"]]),
                 str(r["n_tracks"])]
        for m in TABLE_METRICS:
            v = r[m]
            if v is None:
                cells.append("")
                continue
            text = f"{v:.{_HTML_DECIMALS[units[m][0]]}f}"
            n = n_of.get((r["dataset"], r["condition"], m), r["n_tracks"])
            if n < r["n_tracks"]:
                text += f" <small>(n={n})</small>"
            cells.append(text)
        cls = " class='all'" if r["dataset"] == ALL else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return _html_page(
        title, "Mean absolute error of each condition against the professional mix over the "
        "tracks of each dataset; lower is better, the professional mix is 0. The mix "
        "loudness error compares the mixes before the listening normalisation. A mean over "
        "fewer tracks than the row's shows its n: the stem metrics need stems (a supplied "
        "render has none), and the T60 fit a free decay in the vocal.",
        ["<table>", *head, *body, "</table>"], css="tr.all td{font-weight:bold}")


#: Markers of the datasets in :func:`plot_metrics`, in name order.
_MARKERS = "o^DvsP*X"


def plot_metrics(rows: list[dict], path) -> None:
    """One panel per metric: every track's value per condition, with the mean and its
    95% CI; with more than one dataset, each condition shows one group per dataset (a
    marker per dataset, in a legend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    blocks = _blocks(rows)
    groups = blocks[:-1] if len(blocks) > 2 else blocks[-1:]
    multi = len(groups) > 1
    conds = [c for c in CONDITIONS if any(r["condition"] == c for r in rows)]
    summary = {(s["dataset"], s["condition"], s["metric"]): s for s in summarise(rows)}
    ncols = 4
    nrows = math.ceil((len(METRICS) + 1) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.1 * ncols, 3.75 * nrows))
    offsets = np.linspace(-0.27, 0.27, len(groups)) if multi else np.zeros(1)
    for ax, (metric, unit, label) in zip(axes.flat, METRICS):
        top = 0.0
        for i, c in enumerate(conds):
            for j, (dataset, block) in enumerate(groups):
                v = _finite([r for r in block if r["condition"] == c], metric)
                x0 = i + offsets[j]
                marker = _MARKERS[j % len(_MARKERS)] if multi else "o"
                if v.size:
                    top = max(top, float(v.max()))
                    jitter = (np.arange(v.size) % 7 - 3) * (0.012 if multi else 0.04)
                    ax.plot(x0 + jitter, v, marker, ms=3.5, alpha=0.45, color=f"C{i}")
                s = summary.get((dataset, c, metric))
                if s and s["mean"] is not None:
                    lo, hi = s["ci95_low"], s["ci95_high"]
                    yerr = ([[s["mean"] - lo], [hi - s["mean"]]]
                            if lo is not None and math.isfinite(lo) else None)
                    ax.errorbar(x0 + (0.09 if multi else 0.3), s["mean"], yerr=yerr,
                                fmt=marker if multi else "s", color="k", ms=5, capsize=3)
        if top > 0:  # the tracks set the scale: a CI of two tracks (t = 12.7) may run off it
            ax.set_ylim(-0.05 * top, 1.12 * top)
        ax.set_xticks(range(len(conds)))
        ax.set_xticklabels([LABELS[c] for c in conds], rotation=25, ha="right", fontsize=8)
        ax.set_title(f"{label}" + (f" ({unit})" if unit else ""), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(METRICS):]:
        ax.axis("off")
    if multi:
        handles = [Line2D([], [], ls="", marker=_MARKERS[j % len(_MARKERS)], color="0.3",
                          label=f"{d} ({len({r['track'] for r in b})} tracks)")
                   for j, (d, b) in enumerate(groups)]
        axes.flat[len(METRICS)].legend(handles=handles, title="dataset", loc="center",
                                       frameon=False)
    n_tracks = len({r["track"] for r in rows})
    fig.suptitle(f"Objective comparison with the professional mix ({n_tracks} tracks"
                 + (f", {len(groups)} datasets" if multi else "")
                 + "; dots: tracks, black: mean and 95% CI; lower is better)")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
