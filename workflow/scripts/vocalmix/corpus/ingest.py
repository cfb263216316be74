"""Ingestion (rule ``ingest``): every configured dataset -> one manifest and standard audio.

For each track found by :func:`vocalmix.corpus.adapters.discover`, the stems are read,
checked, summed (backing), trimmed and resampled once to ``config.sample_rate``; the track
gets a row in ``tracks.tsv``. A track that cannot be used gets a row in ``rejected.tsv``
(track, file, reason) and a warning in the log; the others go on. If no track survives, the
job fails with one message summarising why.

No second copy of a dataset (issue 19, disk): a role whose standard audio *is* its one
source file as it lies on disk (the configured rate, nothing summed, trimmed or split) is
read in place, so its path in the manifest is the dataset's own file. Only audio that
ingestion had to make (a backing summed from stems, a resampled or trimmed stem, a mixture
of vocal + backing, the two halves of a stereo file) is written, losslessly, as
``results/corpus/audio/<track>/<role>.flac`` (24-bit PCM, far below any stage's
resolution; a signal beyond full scale keeps 32-bit float in a ``.wav``). The ``checksums``
column records the SHA-256 of every file a row names, as it was when ingested.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from vocalmix.corpus.tracks import Candidate, TrackRejected
from vocalmix.corpus.adapters import load_track
from vocalmix.audio import audio_info, to_channels, write_audio
from vocalmix.files import read_json

log = logging.getLogger(__name__)

__all__ = ["ingest_track", "in_place_source", "sha256_file"]

ROLES = ("vocal", "backing", "mixture", "raw_vocal")


def ingest_track(c: Candidate, audio_dir: str, cfg: dict) -> dict:
    """Standardise one track; return its manifest row. Raises TrackRejected."""
    ing = cfg["ingest"]
    sample_rate = int(cfg["sample_rate"])
    audio, notes = load_track(c, sample_rate=sample_rate,
                              min_duration_s=float(ing["min_duration_s"]),
                              silence_dbfs=float(ing["silence_dbfs"]),
                              length_tolerance_s=float(ing["length_tolerance_s"]))
    if "vocal" not in audio and "raw_vocal" not in audio:
        raise TrackRejected(c.origin, "no vocal stem")
    if "mixture" not in audio:
        vocal = audio.get("vocal", audio.get("raw_vocal"))
        backing = audio["backing"]
        ch = max(vocal.shape[0], backing.shape[0])
        audio["mixture"] = to_channels(vocal, ch) + to_channels(backing, ch)
        notes.append("no mixture file: mixture = vocal + backing")
    tempo = c.tempo_bpm
    if c.truth:
        try:
            tempo = float(read_json(c.truth)["tempo_bpm"])
        except (OSError, ValueError, KeyError) as exc:
            raise TrackRejected(c.truth, f"unreadable ground-truth JSON ({exc})") from None
    out = Path(audio_dir) / c.track_id
    paths = {}
    for role in ROLES:
        if role not in audio:
            continue
        source = in_place_source(c, role, audio[role], sample_rate)
        if source is not None:
            paths[role] = source
            continue
        full_scale = float(np.max(np.abs(audio[role]))) <= 1.0
        paths[role] = str(out / (f"{role}.flac" if full_scale else f"{role}.wav"))
        write_audio(paths[role], audio[role], sample_rate,
                    subtype="PCM_24" if full_scale else "FLOAT")
    checksums = " ".join(f"{role}:{sha256_file(paths[role])}" for role in ROLES
                         if role in paths)
    vocal = audio.get("vocal", audio.get("raw_vocal"))
    for note in notes:
        log.info("%s: %s", c.track_id, note)
    return {
        "track_id": c.track_id, "dataset": c.dataset, "adapter": c.adapter, "split": c.split,
        "source": c.source, "genre": c.genre or "unknown",
        "genre_source": "metadata" if c.genre else "unknown",
        "tempo_bpm": tempo,
        "duration_s": audio["backing"].shape[1] / sample_rate, "sample_rate": sample_rate,
        "vocal_channels": vocal.shape[0], "backing_channels": audio["backing"].shape[0],
        "weight": c.weight, **paths, "room_ir": c.room_ir, "truth": c.truth, "origin": c.origin,
        "checksums": checksums, "notes": "; ".join(notes) or None,
    }


def in_place_source(c: Candidate, role: str, audio: np.ndarray, sample_rate: int) -> str | None:
    """The dataset file that already holds ``role``'s standard audio, or None.

    That is the case when the role comes from one file (not the halves of a stereo file,
    not stems summed) at ``sample_rate`` with exactly the frames and channels of ``audio``
    (nothing trimmed or resampled): its samples, read as float32, are ``audio``.
    """
    files = c.files.get(role) or []
    if c.layout == "stereo_lr" or len(files) != 1:
        return None
    info = audio_info(files[0])
    if (info["sample_rate"], info["channels"], info["frames"]) != (
            sample_rate, audio.shape[0], audio.shape[1]):
        return None
    return files[0]


def sha256_file(path: str, block_bytes: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(block_bytes), b""):
            digest.update(block)
    return digest.hexdigest()
