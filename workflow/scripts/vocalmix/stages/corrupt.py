"""Rules ``corrupt`` and ``corrupt_extra``: corrupted versions of one track's processed vocal.

``corrupt`` does the expensive part once per track: WPE dereverberation (kept, as a 24-bit
FLAC: ``dereverberated.flac``), every version's parameters (``v<k>.json``) and the audio
of the versions that are read again later (``v<k>.wav`` for version 0, which the held-out
comparison uses, and ``render.corruption_version``, the systems' input in the renders).
``corrupt_extra`` makes the other versions' audio from the stored dereverberated vocal;
only the dataset reads them, once, so they are temporary (issue 19, disk) and remaking them
costs an EQ and an expander, not WPE.

Every version is made from the dereverberated vocal *as stored* (24-bit, -144 dBFS steps),
so a version made by either rule, now or in a later run, has the same bytes.
"""

from __future__ import annotations

import io
import logging
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
from numpy.typing import NDArray

from vocalmix import seeding
from vocalmix.audio import AudioError, read_audio, write_audio
from vocalmix.dsp import corruption
from vocalmix.dsp.corruption import CorruptionSettings, dereverberate, sustained_note_loss_db
from vocalmix.files import read_json, write_json

log = logging.getLogger(__name__)

__all__ = ["corrupt", "corrupt_extra", "as_stored"]


def as_stored(audio: NDArray, sample_rate: int, *, name: str = "dereverberated vocal"
              ) -> NDArray[np.float32]:
    """``audio`` as a 24-bit FLAC holds it: the samples every version is made from.

    An in-memory round trip through the same encoder as the file, so the values equal
    what :func:`read_audio` gives for ``dereverberated.flac``. Samples beyond full scale
    cannot be stored in 24 bits: an error naming ``name``, never clipped silently.
    """
    import soundfile as sf

    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 1.0:
        raise AudioError(None, f"{name}: peak {peak:.3f} exceeds full scale; it cannot be "
                               "stored as 24-bit PCM")
    buf = io.BytesIO()
    sf.write(buf, np.asarray(audio, dtype=np.float32).T, int(sample_rate), subtype="PCM_24",
             format="FLAC")
    buf.seek(0)
    data, _ = sf.read(buf, dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)


def _versions(derev: NDArray, sample_rate: int, track: str, seed: int,
              versions: Iterable[int]) -> Iterator[tuple[int, int, NDArray, dict]]:
    """(version, seed, corrupted audio, parameters) of each of ``versions``."""
    for k in versions:
        s = seeding.derive_seed(seed, "corrupt", track, k)
        x, p = corruption.corrupt(derev, sample_rate, np.random.default_rng(s))
        yield k, s, x, p


def corrupt(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
            params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``corrupt``: the dereverberated vocal, the parameters of every version (one per
    ``outputs['params']``) and the audio of ``params['audio_versions']`` (default: every
    version), one per ``outputs['audio']``."""
    vocal, sr = read_audio(inputs["vocal"])
    track = params["track"]
    settings = CorruptionSettings.from_mapping(params["corruption"])
    if settings.dereverb:
        derev = dereverberate(vocal, sr)
    else:
        derev = vocal.mean(axis=0, keepdims=True).astype(np.float32)
    derev = as_stored(derev, sr, name=f"{track}: dereverberated vocal")
    if outputs.get("dereverberated"):
        write_audio(outputs["dereverberated"], derev, sr, subtype="PCM_24", clip="error")
    report = {}
    if settings.dereverb and inputs.get("dry_vocal") and inputs.get("truth"):
        report = sustained_note_loss_db(read_audio(inputs["dry_vocal"])[0], sr,
                                        read_json(inputs["truth"])["notes"])
    json_paths = list(outputs["params"])
    audio_versions = list(params.get("audio_versions", range(len(outputs["audio"]))))
    audio_paths = dict(zip(audio_versions, outputs["audio"]))
    for k, seed, x, p in _versions(derev, sr, track, params["seed"], range(len(json_paths))):
        if k in audio_paths:
            write_audio(audio_paths[k], x, sr)
        write_json(json_paths[k], {"track_id": track, "version": k, "seed": seed, **p,
                                   "wpe_on_dry_notes": report})
        log.info("%s v%d: %d EQ band(s), expander %.1f dB / %.1f:1%s", track, k, len(p["eq"]),
                 p["expander"]["threshold_db"], p["expander"]["ratio"],
                 "" if k in audio_paths else " (audio: rule corrupt_extra)")


def corrupt_extra(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                  params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``corrupt_extra``: the audio of versions ``params['versions']`` (one per
    ``outputs['audio']``) from the stored ``inputs['dereverberated']``."""
    derev, sr = read_audio(inputs["dereverberated"])
    track = params["track"]
    versions = list(params["versions"])
    for (k, _, x, _), path in zip(_versions(derev, sr, track, params["seed"], versions),
                                  outputs["audio"]):
        write_audio(path, x, sr)
        log.info("%s v%d: audio remade from the stored dereverberated vocal", track, k)
