"""Rule ``separate``: one finished song -> vocal + backing."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from vocalmix.audio import write_audio
from vocalmix.files import write_json
from vocalmix.separation import api as separation_api
from vocalmix.separation.api import UnreadableMixture, check_backend
from vocalmix.separation.settings import SeparationSettings

log = logging.getLogger(__name__)

__all__ = ["separate"]


def separate(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
             params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: separate ``inputs['mix']`` with ``params['separation']``.

    Through :func:`~vocalmix.separation.api.separate_file`: the default ``pretrained``
    backend on a song at ``sample_rate`` = 44.1 kHz is read, separated, written and measured
    in blocks (memory does not grow with the song); other backends and rates read the song
    whole. Both write the same files; the report's ``run.streamed`` says which ran.
    """
    track = params["track"]
    sample_rate = int(params["sample_rate"])
    settings = SeparationSettings.from_mapping(params["separation"])
    backend = settings.backend
    check_backend(settings)  # missing weights: refuse before any work
    report = {"track_id": track, "mixture": str(inputs["mix"]), "backend": backend,
              "settings": asdict(settings.chosen), "sample_rate": sample_rate, "ground_truth": False,
              "quality": "no ground truth: a finished song comes without stems; see "
                         "results/separated/quality.tsv for SDR/SI-SDR on held-out tracks"}
    model = inputs.get("model") if backend == "builtin" else None
    start = time.perf_counter()
    try:
        # the pretrained backend on a song at its rate streams: memory flat in the song's length
        result = separation_api.separate_file(inputs["mix"], outputs["vocal"],
                                              outputs["backing"], sample_rate, settings,
                                              model=model, threads=threads)
    except UnreadableMixture as exc:
        log.warning("cannot separate %s: %s", track, exc)
        empty = np.zeros((1, 0), np.float32)
        write_audio(outputs["vocal"], empty, sample_rate)
        write_audio(outputs["backing"], empty, sample_rate)
        write_json(outputs["report"], {**report, "status": "unreadable", "problem": str(exc)})
        return
    seconds = time.perf_counter() - start
    duration = result["frames"] / sample_rate
    facts = result["facts"]
    log.info("%s: %.1f s of audio separated by %s in %.1f s%s; vocal %.1f LUFS, backing "
             "%.1f LUFS", track, duration, backend, seconds,
             " (streamed)" if result["run"].get("streamed") else "",
             facts["vocal_lufs"] or -math.inf, facts["backing_lufs"] or -math.inf)
    write_json(outputs["report"], {
        **report, "status": "ok", "run": {**result["run"], "model": str(model) if model else None},
        "duration_s": duration, "channels": result["channels"],
        "source_sample_rate": result["source_sample_rate"],
        "source_file": Path(inputs["mix"]).name, **facts,
    })
