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
``quality.png``.
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict

import numpy as np

from vocalmix.corpus.tracks import Candidate, TrackRejected
from vocalmix.separation import metrics
from vocalmix.features.summary import write_tsv
from vocalmix.separation.training import load_stems
from vocalmix.audio import read_audio
from vocalmix.files import read_json, save_figure

log = logging.getLogger(__name__)

__all__ = ["COLUMNS", "SUMMARY_COLUMNS", "backend_label", "evaluate_track", "run"]

METRICS = ("vocal_sdr_db", "vocal_si_sdr_db", "backing_sdr_db", "backing_si_sdr_db")
COLUMNS = ("track_id", "dataset", "split", "ground_truth", "estimate", "duration_s", *METRICS,
           "vocal_si_sdr_gain_db", "vocal_to_backing_lu", "note")
SUMMARY_COLUMNS = ("dataset", "estimate", "n_tracks", *(f"mean_{m}" for m in METRICS),
                   "mean_vocal_si_sdr_gain_db", "min_vocal_si_sdr_gain_db")
REFERENCES = ("mixture", "half_mixture", "ideal_ratio_mask")


def backend_label(separation: dict) -> str:
    backend = separation.get("backend", "builtin")
    s = separation.get(backend) or {}
    if backend == "builtin":
        return f"builtin:{s.get('method', 'network')}"
    if backend == "spleeter":
        return f"spleeter:{s.get('model', '2stems')}"
    return f"demucs:{s.get('name', 'htdemucs')}"


def evaluate_track(vocal: np.ndarray, backing: np.ndarray, mixture: np.ndarray,
                   estimates: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, dict]:
    """Scores of every estimate, plus the trivial baselines and the oracle mask."""
    from vocalmix.separation.classical import oracle_masks

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


def _plot(rows: list[dict], label: str, path: str) -> None:
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


def run(inputs: dict, outputs: dict, params: dict, threads: int = 1) -> None:
    """Stage entry: score the estimates of rule ``separate_heldout`` for
    ``params['heldout']`` (candidate dicts; ``params['estimates']`` maps each to its
    vocal/backing files) and list the separated songs' reports (``inputs['reports']``)."""
    from tqdm import tqdm

    from vocalmix.separation.heldout import mixture_of
    from vocalmix.separation.stage import describe

    cfg = params["config"]
    label = backend_label(params["separation"])
    sample_rate = int(cfg["sample_rate"])
    rows: list[dict] = []
    heldout = [Candidate(**d) for d in params["heldout"]]
    for c in tqdm(heldout, desc="separation quality", unit="track", file=sys.stderr,
                  mininterval=2.0):
        try:
            stems = load_stems(c, cfg)
        except TrackRejected as exc:
            log.warning("quality: skipped %s: %s", c.track_id, exc)
            continue
        mixture = mixture_of(stems)
        est = params["estimates"][c.track_id]
        v_hat, _ = read_audio(est["vocal"])
        b_hat, _ = read_audio(est["backing"])
        scores = evaluate_track(stems.vocal, stems.backing, mixture, {label: (v_hat, b_hat)})
        vbr = describe(mixture, stems.vocal, stems.backing, sample_rate)["vocal_to_backing_lu"]
        for name, s in scores.items():
            rows.append({"track_id": c.track_id, "dataset": c.dataset, "split": c.split,
                         "ground_truth": "yes", "estimate": name,
                         "duration_s": mixture.shape[1] / sample_rate, **s,
                         "vocal_to_backing_lu": vbr,
                         "note": "oracle: needs the true stems" if name == "ideal_ratio_mask"
                         else ""})
        log.info("%s: vocal SI-SDR %.2f dB with %s, %.2f dB for the mixture", c.track_id,
                 scores[label]["vocal_si_sdr_db"], label, scores["mixture"]["vocal_si_sdr_db"])
    for path in inputs.get("reports") or []:
        rep = read_json(path)
        rows.append({"track_id": rep["track_id"], "dataset": "separated",
                     "split": (params.get("splits") or {}).get(rep["track_id"], ""),
                     "ground_truth": "no", "estimate": label,
                     "duration_s": rep.get("duration_s"),
                     "vocal_to_backing_lu": rep.get("vocal_to_backing_lu"),
                     "note": ("no ground truth (finished song); vocal energy share "
                              f"{rep['vocal_energy_share']:.3f}" if rep.get("status") == "ok"
                              else f"not separated: {rep.get('problem')}")})
    write_tsv(outputs["table"], rows, columns=COLUMNS)
    summary = summarise(rows)
    write_tsv(outputs["summary"], summary, columns=SUMMARY_COLUMNS)
    for s in summary:
        log.info("%s / %s: %d track(s), vocal SI-SDR %.2f dB (gain over the mixture %.2f dB), "
                 "backing SI-SDR %.2f dB", s["dataset"], s["estimate"], s["n_tracks"],
                 s["mean_vocal_si_sdr_db"], s["mean_vocal_si_sdr_gain_db"],
                 s["mean_backing_si_sdr_db"])
    _plot(rows, label, outputs["plot"])
