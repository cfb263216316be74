"""Rule ``separate``: one finished song -> vocal + backing."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from vocalmix.audio import AudioError, audio_info, read_audio, write_audio
from vocalmix.files import write_json
from vocalmix.separation import api as separation_api
from vocalmix.separation.api import check_backend
from vocalmix.separation.settings import SeparationSettings
from vocalmix.separation.stage import describe

log = logging.getLogger(__name__)

__all__ = ["separate"]


def separate(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
             params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: separate ``inputs['mix']`` with ``params['separation']``."""
    track = params["track"]
    sample_rate = int(params["sample_rate"])
    settings = SeparationSettings.from_mapping(params["separation"])
    backend = settings.backend
    check_backend(settings)  # missing weights: refuse before any work
    report = {"track_id": track, "mixture": str(inputs["mix"]), "backend": backend,
              "settings": asdict(settings.chosen), "sample_rate": sample_rate, "ground_truth": False,
              "quality": "no ground truth: a finished song comes without stems; see "
                         "results/separated/quality.tsv for SDR/SI-SDR on held-out tracks"}
    try:
        sr = audio_info(inputs["mix"])["sample_rate"]
        mixture, _ = read_audio(inputs["mix"], sample_rate=sample_rate)
        if mixture.shape[0] > 2:
            raise AudioError(inputs["mix"], f"{mixture.shape[0]} channels; only mono or "
                                               "stereo songs can be separated")
    except AudioError as exc:
        log.warning("cannot separate %s: %s", track, exc)
        empty = np.zeros((1, 0), np.float32)
        write_audio(outputs["vocal"], empty, sample_rate)
        write_audio(outputs["backing"], empty, sample_rate)
        write_json(outputs["report"], {**report, "status": "unreadable", "problem": str(exc)})
        return
    start = time.perf_counter()
    model = inputs.get("model") if backend == "builtin" else None
    vocal, backing, info = separation_api.separate(mixture, sample_rate, settings, model=model,
                                                   threads=threads)
    seconds = time.perf_counter() - start
    duration = mixture.shape[1] / sample_rate
    write_audio(outputs["vocal"], vocal, sample_rate)
    write_audio(outputs["backing"], backing, sample_rate)
    facts = describe(mixture, vocal, backing, sample_rate)
    log.info("%s: %.1f s of audio separated by %s in %.1f s; vocal %.1f LUFS, backing %.1f LUFS",
             track, duration, backend, seconds, facts["vocal_lufs"] or -math.inf,
             facts["backing_lufs"] or -math.inf)
    write_json(outputs["report"], {
        **report, "status": "ok", "run": {**info, "model": str(model) if model else None},
        "duration_s": duration, "channels": int(mixture.shape[0]), "source_sample_rate": sr,
        "source_file": Path(inputs["mix"]).name, **facts,
    })
