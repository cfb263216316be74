"""Ingestion (rule ``ingest``): every configured dataset -> one manifest and standard audio.

For each track found by :func:`vocalmix.corpus.adapters.discover`, the stems are read,
checked, summed (backing), trimmed, resampled once to ``config.sample_rate`` and written as
``results/corpus/audio/<track>/{vocal,backing,mixture,raw_vocal}.wav``; the track gets a
row in ``tracks.tsv``. A track that cannot be used gets a row in ``rejected.tsv`` (track,
file, reason) and a warning in the log; the others go on. If no track survives, the job
fails with one message summarising why.
"""

from __future__ import annotations

import logging
from pathlib import Path

from vocalmix.corpus.tracks import Candidate, TrackRejected
from vocalmix.corpus.adapters import load_track
from vocalmix.audio import to_channels, write_audio
from vocalmix.files import read_json

log = logging.getLogger(__name__)

__all__ = ["ingest_track"]

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
        if role in audio:
            paths[role] = str(out / f"{role}.wav")
            write_audio(paths[role], audio[role], sample_rate)
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
        "notes": "; ".join(notes) or None,
    }
