"""Rule ``corrupt``: corrupted versions of one track's processed vocal."""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np

from vocalmix import seeding
from vocalmix.audio import read_audio, write_audio
from vocalmix.dsp import corruption
from vocalmix.dsp.corruption import CorruptionSettings, dereverberate, sustained_note_loss_db
from vocalmix.files import read_json, write_json

log = logging.getLogger(__name__)

__all__ = ["corrupt"]


def corrupt(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
            params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: corrupted copies of one track's processed vocal, one per output (the
    rule asks for ``corruption.versions``)."""
    vocal, sr = read_audio(inputs["vocal"])
    track = params["track"]
    settings = CorruptionSettings.from_mapping(params["corruption"])
    if settings.dereverb:
        derev = dereverberate(vocal, sr)
    else:
        derev = vocal.mean(axis=0, keepdims=True).astype(np.float32)
    if outputs.get("dereverberated"):
        write_audio(outputs["dereverberated"], derev, sr)
    report = {}
    if settings.dereverb and inputs.get("dry_vocal") and inputs.get("truth"):
        report = sustained_note_loss_db(read_audio(inputs["dry_vocal"])[0], sr,
                                        read_json(inputs["truth"])["notes"])
    audio_paths, json_paths = list(outputs["audio"]), list(outputs["params"])
    for k, (apath, jpath) in enumerate(zip(audio_paths, json_paths)):
        seed = seeding.derive_seed(params["seed"], "corrupt", track, k)
        x, p = corruption.corrupt(derev, sr, np.random.default_rng(seed))
        write_audio(apath, x, sr)
        write_json(jpath, {"track_id": track, "version": k, "seed": seed, **p,
                              "wpe_on_dry_notes": report})
        log.info("%s v%d: %d EQ band(s), expander %.1f dB / %.1f:1", track, k, len(p["eq"]),
                 p["expander"]["threshold_db"], p["expander"]["ratio"])
