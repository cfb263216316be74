"""Rule ``evaluate_models``: the mixing systems on the held-out corrupted vocals."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from vocalmix.audio import AudioError, audio_info
from vocalmix.evaluation.render import analysis_window
from vocalmix.evaluation import systems
from vocalmix.evaluation.systems import SYSTEMS, plot_summary, summarise
from vocalmix.files import read_json

log = logging.getLogger(__name__)

__all__ = ["evaluate_models"]


def evaluate_models(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                    params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: evaluate every test track; write per-track and summary tables."""
    from pathlib import Path

    from vocalmix.features.summary import read_genre_stats
    from vocalmix.tables import write_tsv
    from vocalmix.features.extract import FeatureSettings
    from vocalmix.mixing.base import MixingSettings
    from vocalmix.mixing.data_driven import load_models

    models = load_models(Path(inputs["models"][0]).parent.parent)
    table = read_genre_stats(inputs["genre_stats"])
    feats = {Path(p).name.removesuffix(".json"): p for p in inputs["features"]}
    corrupted = {Path(p).parent.name: p for p in inputs["corrupted"]}
    derev = {Path(p).parent.name: p for p in inputs.get("dereverberated", [])}
    mixing = MixingSettings.from_mapping(params.get("mixing"))
    excerpts = {Path(p).parent.name: p for p in inputs.get("excerpts", [])}
    hop_s = float(FeatureSettings.from_mapping(params["features"]).hop_s)
    rows = []
    for row in params["tracks"]:
        tid = row["track_id"]
        try:
            # a song longer than mixing.analysis_s is mixed on its window around the
            # excerpt, as the render stage mixes it (memory flat in the song's length)
            window = None
            if tid in excerpts:
                info = audio_info(corrupted[tid])
                window = analysis_window(read_json(excerpts[tid]), int(info["sample_rate"]),
                                         int(info["frames"]), mixing.analysis_s)
            rows.extend(systems.evaluate_track(row, read_json(feats[tid]), corrupted[tid],
                                       models=models, genre_stats=table,
                                       dereverberated=derev.get(tid), mixing=mixing,
                                       hop_s=hop_s, window=window))
        except (ValueError, AudioError) as exc:  # one bad track is reported, not fatal
            log.error("%s: not evaluated: %s", tid, exc)
            continue
        log.info("%s evaluated", tid)
    if not rows:
        raise ValueError("no test track could be evaluated (see the log)")
    write_tsv(outputs["per_track"], rows)
    summary = summarise(rows)
    write_tsv(outputs["summary"], summary)
    if outputs.get("plot"):
        plot_summary(rows, outputs["plot"])
    for s in summary:
        log.info("%-10s %-12s %-38s %s", s["dataset"], s["target"], s["metric"],
                 "  ".join(f"{k}={s[k]:.2f}" if s[k] is not None else f"{k}=n/a"
                           for k in SYSTEMS))
