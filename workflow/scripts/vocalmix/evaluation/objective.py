"""Objective evaluation of the rendered conditions (rules ``evaluate_track``, ``evaluate``).

Every condition of a track is compared with the track's ``professional`` render, both as
the listener gets them (the same excerpt, loudness-normalised). Metrics, all absolute
differences (0 for identical signals):
====================  =====  ================================================================
column                unit   definition
====================  =====  ================================================================
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

The stem metrics need stems: a supplied commercial render (no stems) or a supplied
professional mix leaves them NaN. ``summary.tsv`` aggregates per condition and metric:
mean, median, a 95% confidence interval of the mean (Student t) and n.
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

__all__ = ["METRICS", "balance_lu", "mel_distance_db", "centroid_error_hz",
           "mrstft_distance", "fitted_t60", "compare", "evaluate_track", "summarise",
           "plot_metrics"]

#: (column, unit, label) of every metric, in table order.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("balance_error_lu", "LU", "vocal-to-backing loudness error"),
    ("lra_error_lu", "LU", "vocal loudness-range error"),
    ("mel_distance_db", "dB", "mel-spectral distance"),
    ("centroid_error_hz", "Hz", "spectral-centroid error"),
    ("mrstft_distance", "", "multi-resolution STFT distance"),
    ("t60_error_pct", "%", "reverb mid-band T60 error"),
)

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


def compare(cond: dict, ref: dict, sample_rate: int) -> dict:
    """Metrics of one condition against the reference; each a dict with ``mix`` and,
    where known, ``vocal``/``backing`` stems and ``t60_s``."""
    out = {"mel_distance_db": mel_distance_db(cond["mix"], ref["mix"], sample_rate),
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
    item = {"mix": read_audio(paths["audio"], sample_rate=sample_rate)[0], "info": info}
    if info.get("stems_known"):
        item["vocal"] = read_audio(paths["vocal"], sample_rate=sample_rate)[0]
        item["backing"] = read_audio(paths["backing"], sample_rate=sample_rate)[0]
    return item


def evaluate_track(track: str, renders: dict[str, dict], sample_rate: int, *, seed: int,
                   reverb: dict) -> list[dict]:
    """One row per condition of ``track`` (``renders``: condition -> file paths)."""
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
        rows.append({"track": track, "condition": c, "source": info.get("source"),
                     "genre": info.get("genre"),
                     **{k: m[k] for k, _, _ in METRICS},
                     "balance_lu": m["balance_lu"], "vocal_lra_lu": m["vocal_lra_lu"],
                     "t60_s": m["t60_s"], "integrated_lufs": info.get("integrated_lufs"),
                     "true_peak_dbtp": info.get("true_peak_dbtp")})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """condition, metric, unit, mean, median, ci95_low, ci95_high, n (finite values)."""
    from scipy import stats

    out = []
    for c in CONDITIONS:
        for metric, unit, _ in METRICS:
            v = np.array([r[metric] for r in rows if r["condition"] == c], dtype=float)
            v = v[np.isfinite(v)]
            n = int(v.size)
            if n == 0:
                if any(r["condition"] == c for r in rows):
                    out.append({"condition": c, "metric": metric, "unit": unit, "mean": None,
                                "median": None, "ci95_low": None, "ci95_high": None, "n": 0})
                continue
            mean = float(v.mean())
            if n > 1 and np.std(v) > 0:
                half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n))
            else:
                half = 0.0 if n > 1 else math.nan
            out.append({"condition": c, "metric": metric, "unit": unit, "mean": mean,
                        "median": float(np.median(v)), "ci95_low": mean - half,
                        "ci95_high": mean + half, "n": n})
    return out


def plot_metrics(rows: list[dict], path) -> None:
    """One panel per metric: every track's value per condition, with the mean and its
    95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = [c for c in CONDITIONS if any(r["condition"] == c for r in rows)]
    summary = {(s["condition"], s["metric"]): s for s in summarise(rows)}
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    for ax, (metric, unit, label) in zip(axes.flat, METRICS):
        for i, c in enumerate(conds):
            v = np.array([r[metric] for r in rows if r["condition"] == c], dtype=float)
            v = v[np.isfinite(v)]
            if v.size:
                jitter = (np.arange(v.size) % 7 - 3) * 0.04
                ax.plot(i + jitter, v, "o", ms=3.5, alpha=0.45, color=f"C{i}")
            s = summary.get((c, metric))
            if s and s["mean"] is not None:
                lo, hi = s["ci95_low"], s["ci95_high"]
                yerr = ([[s["mean"] - lo], [hi - s["mean"]]]
                        if lo is not None and math.isfinite(lo) else None)
                ax.errorbar(i + 0.3, s["mean"], yerr=yerr, fmt="s", color="k", ms=5,
                            capsize=3)
        ax.set_xticks(range(len(conds)))
        ax.set_xticklabels([LABELS[c] for c in conds], rotation=25, ha="right", fontsize=8)
        ax.set_title(f"{label}" + (f" ({unit})" if unit else ""), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    n_tracks = len({r["track"] for r in rows})
    fig.suptitle(f"Objective comparison with the professional mix ({n_tracks} tracks; "
                 "dots: tracks, squares: mean and 95% CI; lower is better)")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
