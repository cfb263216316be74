"""Rule ``vocal_activity``: the vocal-activity detection on separated vocals, checked against
the songs' lyric-line timings (``commercial_mixes`` entries with an ``activity`` folder).

The detector is the features stage's own (:func:`vocalmix.features.extract.active_blocks`
at ``features.gate_lu``): the windows it marks silent get no level target, and the genre
table's loudness is gated by it, so on separated songs it decides what the models learn from.
Scores are frame precision / recall / F1 on a 100 ms grid (:mod:`vocalmix.evaluation.
activity`), plain and with a 0.5 s collar around each reference boundary, beside the
all-active baseline. One bad track is reported and skipped; the others go on.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Mapping

import numpy as np

from vocalmix.audio import read_audio
from vocalmix.evaluation import activity
from vocalmix.files import save_figure
from vocalmix.tables import write_tsv

log = logging.getLogger(__name__)

__all__ = ["COLUMNS", "COLLARS_S", "score_track", "vocal_activity"]

#: the two fixed reporting collars (s): plain frame scores, and onsets/offsets forgiven
COLLARS_S = (0.0, 0.5)
COLUMNS = ("track_id", "genre", "duration_s", "ref_active_fraction", "det_active_fraction",
           *(f"{m}_collar_{c:g}s" for c in COLLARS_S for m in ("precision", "recall", "f1")),
           *(f"all_active_f1_collar_{c:g}s" for c in COLLARS_S), "note")


def score_track(vocal, sample_rate: int, lines_path: str, *, gate_lu: float) -> dict:
    """Frame scores of the detector on one vocal against one lyric-line file."""
    n = activity.frame_count(vocal.shape[-1] / sample_rate)
    ref = activity.reference_labels(activity.read_intervals(lines_path), n)
    det = activity.detector_labels(vocal, sample_rate, gate_lu=gate_lu, n_frames=n)
    row: dict = {"duration_s": round(n * activity.DEFAULT_HOP_S, 3),
                 "ref_active_fraction": float(ref.mean()), "det_active_fraction": float(det.mean())}
    for c in COLLARS_S:
        s = activity.frame_scores(ref, det, collar_s=c)
        base = activity.frame_scores(ref, np.ones_like(ref), collar_s=c)
        row.update({f"precision_collar_{c:g}s": s.precision, f"recall_collar_{c:g}s": s.recall,
                    f"f1_collar_{c:g}s": s.f1, f"all_active_f1_collar_{c:g}s": base.f1})
    return row


def _plot(rows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["track_id"].removeprefix("separated_")[:22] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(rows) + 2), 3.8))
    ax.bar(x - 0.2, [r["f1_collar_0s"] for r in rows], 0.4, label="separated vocal")
    ax.bar(x + 0.2, [r["all_active_f1_collar_0s"] for r in rows], 0.4, color="0.7",
           label="all active (baseline)")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("frame F1 (no collar)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Vocal activity vs lyric-line timings")
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def vocal_activity(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                   params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: ``params['tracks']`` lists ``{track_id, genre, vocal, lines}``; writes
    ``outputs['table']`` (one row per track and a ``mean`` row) and ``outputs['plot']``."""
    from tqdm import tqdm

    gate = float(params["gate_lu"])
    rows = []
    for t in tqdm(params["tracks"], desc="vocal activity", unit="song", file=sys.stderr):
        try:
            vocal, rate = read_audio(t["vocal"])
            row = score_track(vocal, rate, t["lines"], gate_lu=gate)
        except (OSError, ValueError) as exc:
            log.warning("vocal activity: skipped %s: %s", t["track_id"], exc)
            rows.append({"track_id": t["track_id"], "genre": t.get("genre") or "",
                         "note": f"skipped: {exc}"})
            continue
        rows.append({"track_id": t["track_id"], "genre": t.get("genre") or "", **row,
                     "note": ""})
        log.info("%s: F1 %.3f (collar 0.5 s: %.3f), all-active %.3f", t["track_id"],
                 row["f1_collar_0s"], row["f1_collar_0.5s"], row["all_active_f1_collar_0s"])
    scored = [r for r in rows if not r["note"]]
    if scored:
        mean = {"track_id": "mean", "genre": "", "note": f"{len(scored)} songs"}
        for k in COLUMNS[2:-1]:
            mean[k] = float(np.nanmean([r[k] for r in scored]))
        rows.append(mean)
    write_tsv(outputs["table"], [{k: r.get(k) for k in COLUMNS} for r in rows])
    _plot(scored, outputs["plot"])
