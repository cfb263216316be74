"""Rule ``separation_quality``: SI-SDR of the separator on held-out tracks."""

from __future__ import annotations

import logging
import sys
from typing import Any, Mapping

from vocalmix.audio import read_audio
from vocalmix.corpus.tracks import Candidate, TrackRejected
from vocalmix.tables import write_tsv
from vocalmix.files import read_json
from vocalmix.separation import quality
from vocalmix.separation.quality import (
    COLUMNS,
    SUMMARY_COLUMNS,
    backend_label,
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
    vocal/backing files) and list the separated songs' reports (``inputs['reports']``)."""
    from tqdm import tqdm

    from vocalmix.separation.heldout import mixture_of
    from vocalmix.separation.stage import describe

    cfg = params["config"]
    label = backend_label(SeparationSettings.from_mapping(params["separation"]))
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
