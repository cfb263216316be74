"""Rule ``separate``: one finished song -> ``results/separated/<track>/{vocal,backing}.wav``.

The song is read (any format libsndfile reads), resampled once to ``config.sample_rate``,
separated by the configured backend and written as float WAVs at that rate, with
``report.json``: what ran, how long it took, and what can be said without ground truth (a
finished song has no stems): the integrated loudness of mixture, vocal and backing, the
vocal-to-backing ratio, and the share of the mixture's energy given to the vocal.

A song that cannot be read is not fatal: the report records the problem and the two stems
are written empty, so ingestion rejects the track (naming the song and the problem, since
the song is read first) and the other tracks go on. Missing weights for spleeter or demucs
*are* fatal: that is a configuration error.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np

from vocalmix.separation.api import check_backend, separate
from vocalmix.audio import AudioError, audio_info, read_audio, write_audio
from vocalmix.files import write_json

log = logging.getLogger(__name__)

__all__ = ["backend_settings", "describe", "run"]


def backend_settings(separation: dict) -> dict:
    """The settings :func:`vocalmix.separation.api.separate` needs for the configured backend."""
    backend = separation.get("backend", "builtin")
    return dict(separation.get(backend) or {})


def _lufs(audio: np.ndarray, sample_rate: int) -> float | None:
    from vocalmix.measure.loudness import integrated_loudness

    value = integrated_loudness(audio, sample_rate)
    return float(value) if math.isfinite(value) else None


def describe(mixture: np.ndarray, vocal: np.ndarray, backing: np.ndarray,
             sample_rate: int) -> dict:
    """Reference-free facts about a separation (levels, the vocal's energy share)."""
    mix_lufs = _lufs(mixture, sample_rate)
    vocal_lufs = _lufs(vocal, sample_rate)
    backing_lufs = _lufs(backing, sample_rate)
    ev = float(np.sum(np.square(vocal, dtype=np.float64)))
    eb = float(np.sum(np.square(backing, dtype=np.float64)))
    return {
        "mixture_lufs": mix_lufs, "vocal_lufs": vocal_lufs, "backing_lufs": backing_lufs,
        "vocal_to_backing_lu": (vocal_lufs - backing_lufs
                                if vocal_lufs is not None and backing_lufs is not None else None),
        "vocal_energy_share": ev / (ev + eb) if ev + eb > 0 else None,
    }


def run(inputs: dict, outputs: dict, params: dict, threads: int = 1) -> None:
    """Stage entry: separate ``inputs['mix']`` with ``params['separation']``."""
    track = params["track"]
    sample_rate = int(params["sample_rate"])
    sep = params["separation"]
    backend = sep["backend"]
    settings = backend_settings(sep)
    check_backend(backend, settings)  # missing weights: refuse before any work
    report = {"track_id": track, "mixture": str(inputs["mix"]), "backend": backend,
              "settings": settings, "sample_rate": sample_rate, "ground_truth": False,
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
    vocal, backing, info = separate(mixture, sample_rate, backend=backend, settings=settings,
                                    model=model, threads=threads)
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
