"""Rule ``separation_quality``: SI-SDR of the separator on held-out tracks, and the bias
the separation puts into each training target (:mod:`vocalmix.separation.bias`)."""

from __future__ import annotations

import logging
import sys
from typing import Any, Mapping

from vocalmix.audio import read_audio
from vocalmix.corpus.tracks import Candidate, TrackRejected
from vocalmix.tables import write_tsv
from vocalmix.files import read_json
from vocalmix.separation import bias, quality
from vocalmix.separation.quality import (
    BIAS_COLUMNS,
    BIAS_SUMMARY_COLUMNS,
    COLUMNS,
    SUMMARY_COLUMNS,
    backend_label,
    plot_bias,
    plot_quality,
    summarise,
)
from vocalmix.separation.settings import SeparationSettings
from vocalmix.separation.training import load_stems

log = logging.getLogger(__name__)

__all__ = ["separation_quality"]


def separation_quality(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                       params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: score the estimates of rule ``separate_heldout`` for
    ``params['heldout']`` (candidate dicts; ``params['estimates']`` maps each to its
    vocal/backing files) and list the separated songs' reports (``inputs['reports']``).

    Writes ``outputs['table']``, ``['summary']`` and ``['plot']`` (SI-SDR) and, where the
    outputs name them, ``outputs['bias']`` (one row per held-out track: the training
    targets measured on the true and the estimated pair, :func:`vocalmix.separation.bias.
    bias_row`), ``['bias_summary']`` (per dataset and split, :func:`~vocalmix.separation.
    bias.summarise_bias`), ``['bias_plot']`` and ``['correction']`` (the mean bias over the
    calibration tracks, the held-out tracks outside the test split:
    :func:`~vocalmix.separation.bias.corrections`). The SI-SDR tables hold the test split
    only."""
    from tqdm import tqdm

    from vocalmix.separation.heldout import mixture_of
    from vocalmix.separation.stage import describe

    cfg = params["config"]
    label = backend_label(SeparationSettings.from_mapping(params["separation"]))
    sample_rate = int(cfg["sample_rate"])
    rows: list[dict] = []
    bias_rows: list[dict] = []
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
        if c.split != "test":  # a calibration track: its bias only
            bias_rows.append({"track_id": c.track_id, "dataset": c.dataset, "split": c.split,
                              "estimate": label,
                              **bias.bias_row((stems.vocal, stems.backing), (v_hat, b_hat),
                                              sample_rate)})
            continue
        scores = quality.evaluate_track(stems.vocal, stems.backing, mixture,
                                        {label: (v_hat, b_hat)})
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
        b = bias.bias_row((stems.vocal, stems.backing), (v_hat, b_hat), sample_rate)
        bias_rows.append({"track_id": c.track_id, "dataset": c.dataset, "split": c.split,
                          "estimate": label, **b})
        log.info("%s: separation bias: vocal-to-backing %+.2f LU, vocal LRA %+.2f LU, "
                 "tonal balance %.2f dB RMS", c.track_id, b["bias_vocal_to_backing_lu"],
                 b["bias_vocal_lra_lu"], b[bias.EQ_RMS])
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
    plot_quality(rows, label, outputs["plot"])
    if "bias" in outputs:
        _write_bias(bias_rows, outputs, label)


def _write_bias(rows: list[dict], outputs: Mapping[str, Any], label: str) -> None:
    """The bias table, its per-dataset summary and (where named) its plot."""
    write_tsv(outputs["bias"], rows, columns=BIAS_COLUMNS)
    summary = bias.summarise_bias(rows, ("dataset", "split"))
    write_tsv(outputs["bias_summary"], summary, columns=BIAS_SUMMARY_COLUMNS)
    if "correction" in outputs:
        corr = bias.corrections([r for r in rows if r["split"] != "test"])
        write_tsv(outputs["correction"], corr, columns=bias.CORRECTION_COLUMNS)
        applied = [c for c in corr if c["applied"] == "yes"]
        log.info("separation bias correction: %s", "; ".join(
            f"{c['target']} {c['mean_bias']:+.2f}" for c in applied) if applied
            else f"none ({corr[0]['reason']})")
    for s in summary:
        if s["target"] in ("vocal_to_backing_lu", "vocal_lra_lu", bias.EQ_RMS):
            log.info("%s: %s bias mean %.2f, sd %.2f, mean |bias| %.2f over %d track(s)",
                     s["dataset"], s["target"], s["mean_bias"], s["sd_bias"],
                     s["mean_abs_bias"], s["n_tracks"])
    if "bias_plot" in outputs:
        plot_bias(rows, label, outputs["bias_plot"])
