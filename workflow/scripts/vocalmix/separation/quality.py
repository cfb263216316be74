"""Rule ``separation_quality``: SDR and SI-SDR wherever ground truth exists.

Ground truth exists for every *test-split* track of the configured datasets with a vocal and
a backing stem (the demo's held-out songs; MUSDB18-HQ's test songs, e.g. the three previews
in ``../shared/data/real/musdb18hq_preview``; ...). Rule ``separate_heldout``
(:mod:`vocalmix.separation.heldout`) separates each test mixture with the configured backend,
in the backend's environment; this rule scores the estimates against the true vocal and
backing (:mod:`vocalmix.separation.metrics`: plain SDR and SI-SDR, in dB), next to

* ``mixture`` -- the mixture itself as the estimate of both sources,
* ``half_mixture`` -- a constant 0.5 mask (half the mixture for both; same SI-SDR as the
  mixture, different SDR),
* ``ideal_ratio_mask`` -- the oracle ``|V| / (|V| + |B|)`` mask, which needs the truth: the
  ceiling of any mask method that keeps the mixture's phase, for context.

The separated finished songs (``commercial_mixes``) have no ground truth; they get rows with
the reference-free facts of their reports and ``ground_truth = no``.

Writes ``quality.tsv`` (one row per track and estimate), ``quality_summary.tsv`` (means per
dataset and estimate, and the separator's mean vocal SI-SDR gain over the mixture) and
``quality.png``; and, for the same held-out tracks, what the separation does to each training
target (:mod:`vocalmix.separation.bias`): ``bias.tsv`` (:data:`BIAS_COLUMNS`, one row per
track), ``bias_summary.tsv`` (:data:`BIAS_SUMMARY_COLUMNS`, per dataset and target) and
``bias.png``.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np

from vocalmix.files import save_figure
from vocalmix.separation import bias, metrics
from vocalmix.separation.classical import oracle_masks
from vocalmix.separation.settings import SeparationSettings

log = logging.getLogger(__name__)

__all__ = ["COLUMNS", "SUMMARY_COLUMNS", "BIAS_COLUMNS", "BIAS_SUMMARY_COLUMNS",
           "backend_label", "evaluate_track", "plot_bias"]

METRICS = ("vocal_sdr_db", "vocal_si_sdr_db", "backing_sdr_db", "backing_si_sdr_db")
COLUMNS = ("track_id", "dataset", "split", "ground_truth", "estimate", "duration_s", *METRICS,
           "vocal_si_sdr_gain_db", "vocal_to_backing_lu", "note")
SUMMARY_COLUMNS = ("dataset", "estimate", "n_tracks", *(f"mean_{m}" for m in METRICS),
                   "mean_vocal_si_sdr_gain_db", "min_vocal_si_sdr_gain_db")
#: ``bias.tsv``: the track, then true/est/bias of each target (:func:`bias.bias_row`)
BIAS_COLUMNS = ("track_id", "dataset", "split", "estimate", *bias.ROW_COLUMNS)
#: ``bias_summary.tsv``: per dataset, split and target (:func:`bias.summarise_bias`)
BIAS_SUMMARY_COLUMNS = ("dataset", "split", *bias.SUMMARY_COLUMNS)


def backend_label(settings: SeparationSettings) -> str:
    """The separator's name in the quality table: backend and method or model."""
    backend = settings.backend
    if backend == "builtin":
        return f"builtin:{settings.builtin.method}"
    if backend == "pretrained":
        return "pretrained:spleeter-2stems"
    if backend == "spleeter":
        return f"spleeter:{settings.spleeter.model}"
    return f"demucs:{settings.demucs.name}"


def evaluate_track(vocal: np.ndarray, backing: np.ndarray, mixture: np.ndarray,
                   estimates: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, dict]:
    """Scores of every estimate, plus the trivial baselines and the oracle mask."""

    out = {}
    mix_vocal_si_sdr = metrics.si_sdr(vocal, mixture)
    all_estimates = dict(estimates)
    for name in metrics.BASELINES:
        all_estimates[name] = metrics.baseline_estimates(mixture, name)
    all_estimates["ideal_ratio_mask"] = oracle_masks(mixture, vocal, backing)
    for name, (v_hat, b_hat) in all_estimates.items():
        s = metrics.score(vocal, backing, v_hat, b_hat)
        s["vocal_si_sdr_gain_db"] = s["vocal_si_sdr_db"] - mix_vocal_si_sdr
        out[name] = s
    return out


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        if r["ground_truth"] == "yes":
            groups[(r["dataset"], r["estimate"])].append(r)
    out = []
    for (dataset, estimate), rs in sorted(groups.items()):
        row = {"dataset": dataset, "estimate": estimate, "n_tracks": len(rs)}
        for m in (*METRICS, "vocal_si_sdr_gain_db"):
            row[f"mean_{m}"] = float(np.mean([r[m] for r in rs]))
        row["min_vocal_si_sdr_gain_db"] = float(np.min([r["vocal_si_sdr_gain_db"] for r in rs]))
        out.append(row)
    return out


def plot_quality(rows: list[dict], label: str, path: str) -> None:
    """SI-SDR per dataset and estimate (bars: mean, dots: tracks) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows if r["ground_truth"] == "yes"})
    order = ["mixture", "half_mixture", label, "ideal_ratio_mask"]
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(4.2 * max(1, len(datasets)), 3.8),
                             squeeze=False)
    for ax, ds in zip(axes[0], datasets or [None]):
        if ds is None:
            ax.text(0.5, 0.5, "no held-out track with ground truth", ha="center", va="center")
            ax.set_axis_off()
            continue
        for k, key, colour in ((0, "vocal_si_sdr_db", "tab:blue"),
                               (1, "backing_si_sdr_db", "tab:orange")):
            for i, est in enumerate(order):
                vals = [r[key] for r in rows if r["dataset"] == ds and r["estimate"] == est
                        and r["ground_truth"] == "yes"]
                if not vals:
                    continue
                x = i + (k - 0.5) * 0.36
                ax.bar(x, np.mean(vals), width=0.34, color=colour, alpha=0.55,
                       label=("vocal" if k == 0 else "backing") if i == 0 else None)
                ax.plot(np.full(len(vals), x), vals, "k.", ms=3)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels([o.replace("_", "\n") for o in order], fontsize=8)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_ylabel("SI-SDR (dB)")
        ax.set_title(f"{ds} (test split)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Separation quality on held-out tracks (bars: mean, dots: tracks)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def plot_bias(rows: list[dict], label: str, path: str) -> None:
    """The separation's bias per target (dots: tracks, bars: dataset means) as a PNG:
    levels (LU / dB), T60 (s) and tonal balance per octave band (dB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    panels = ((("vocal_to_backing_lu", "VBR"), ("vocal_lra_lu", "LRA"),
               ("vocal_drr_db", "DRR")), (("vocal_t60_s", "T60"),),
              tuple((t, t.split("_")[2].replace("hz", " Hz")) for t in bias.EQ_TARGETS))
    units = ("bias (LU; DRR dB)", "bias (s)", "tonal balance bias (dB)")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), width_ratios=(3, 1, 6))
    width = 0.8 / max(1, len(datasets))
    for ax, panel, unit in zip(axes, panels, units):
        for k, ds in enumerate(datasets):
            for i, (target, _) in enumerate(panel):
                vals = np.array([r[f"bias_{target}"] for r in rows if r["dataset"] == ds],
                                dtype=float)
                vals = vals[np.isfinite(vals)]
                x = i + (k - (len(datasets) - 1) / 2) * width
                if vals.size:
                    ax.bar(x, vals.mean(), width=width * 0.9, alpha=0.55,
                           color=f"C{k}", label=ds if i == 0 else None)
                    ax.plot(np.full(vals.size, x), vals, "k.", ms=3)
        ax.set_xticks(range(len(panel)))
        ax.set_xticklabels([name for _, name in panel], fontsize=8)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_ylabel(unit)
        ax.grid(axis="y", alpha=0.3)
    if not rows:
        axes[0].text(0.5, 0.5, "no held-out track with ground truth", ha="center",
                     va="center", transform=axes[0].transAxes)
    else:
        axes[0].legend(fontsize=8)
    fig.suptitle(f"Target bias of {label} (estimate minus truth; bars: mean, dots: tracks)",
                 fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
