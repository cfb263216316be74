"""Finished songs (``commercial_mixes``) as corpus candidates with ``source=separated``.

Each entry of ``config.commercial_mixes`` is a folder (every audio file in it, not
recursive), a file, or a glob pattern (``**`` recursive), given as a string or as
``{path: ..., genre: ...}``. Every song becomes a candidate track
``separated_<slug of the file name>`` whose vocal and backing are the outputs of rule
``separate`` (``results/separated/<track>/{vocal,backing}.wav``) and whose mixture is the
song itself. Discovery only lists files (cheap enough for Snakemake's DAG); rule
``separate`` does not read the manifest, so the separated tracks can enter ingestion without
a cycle.

Split: ``separation.split`` (default ``train``: finished songs have no ground truth and are
never test material unless asked); ``auto`` gives them a seeded, genre-stratified split with
``ingest.test_fraction`` / ``valid_fraction``. Weight in training:
``separation.train_weight``.
"""

from __future__ import annotations

import glob
import logging
from dataclasses import fields
from pathlib import Path

from vocalmix.config import schema_settings
from vocalmix.corpus.tracks import (AUDIO_EXTS, Candidate, CorpusError, Rejection,
                                    genre_slug, slug, split_candidates)
from vocalmix.layout import SEPARATED_DIR

log = logging.getLogger(__name__)

__all__ = ["SeparatedSettings", "DATASET", "OUT_DIR", "discover_mixes", "mix_entries",
           "separated_paths"]

DATASET = "separated"
OUT_DIR = SEPARATED_DIR


@schema_settings("separation")
class SeparatedSettings:
    """The separated tracks in the corpus (the keys of config section ``separation`` that
    discovery reads; the rest belong to :mod:`vocalmix.separation`; defaults from the
    schema): their split and the weight of their windows in training."""

    split: str
    train_weight: float


def separated_paths(track_id: str) -> dict[str, str]:
    """Where rule ``separate`` writes a track's stems and report."""
    d = f"{OUT_DIR}/{track_id}"
    return {"vocal": f"{d}/vocal.wav", "backing": f"{d}/backing.wav", "report": f"{d}/report.json"}


def mix_entries(config: dict) -> list[dict]:
    """``commercial_mixes`` entries as ``{path, genre}`` dicts."""
    out = []
    for entry in config.get("commercial_mixes") or []:
        if isinstance(entry, str):
            out.append({"path": entry, "genre": None})
        else:
            out.append({"path": str(entry["path"]), "genre": entry.get("genre")})
    return out


def _files(pattern: str) -> list[Path]:
    p = Path(pattern).expanduser()
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in AUDIO_EXTS)
    if p.is_file():
        return [p]
    if glob.has_magic(pattern):
        return sorted(Path(f) for f in glob.glob(str(p), recursive=True)
                      if Path(f).is_file() and Path(f).suffix.lower() in AUDIO_EXTS)
    raise CorpusError(f"commercial_mixes: '{pattern}' is not a file, a folder or a glob "
                      "pattern that exists")


def discover_mixes(config: dict) -> tuple[list[Candidate], list[Rejection]]:
    """Candidates for every song listed under ``commercial_mixes``."""
    sep = config.get("separation") or {}
    settings = SeparatedSettings.from_mapping(
        {f.name: sep[f.name] for f in fields(SeparatedSettings) if f.name in sep})
    weight = float(settings.train_weight)
    cands: list[Candidate] = []
    rejs: list[Rejection] = []
    seen: dict[str, str] = {}
    for entry in mix_entries(config):
        files = _files(entry["path"])
        if not files:
            msg = "no audio file (" + ", ".join(AUDIO_EXTS) + ") found"
            log.warning("commercial_mixes '%s': %s", entry["path"], msg)
            rejs.append(Rejection("", DATASET, entry["path"], msg))
            continue
        for f in files:
            tid = f"{DATASET}_{slug(f.stem)}"
            if tid in seen:
                raise CorpusError(f"commercial_mixes: '{f}' and '{seen[tid]}' both become track "
                                  f"'{tid}'; rename one")
            seen[tid] = str(f)
            out = separated_paths(tid)
            cands.append(Candidate(
                track_id=tid, dataset=DATASET, adapter="separated", split="train",
                source="separated", genre=genre_slug(entry["genre"]),
                # mixture first: an unreadable song is reported with its own file and reason
                files={"mixture": [str(f)], "vocal": [out["vocal"]], "backing": [out["backing"]]},
                origin=str(f), weight=weight))
    split = settings.split
    if split == "auto" and cands:
        split_candidates(cands, config)
    else:
        for c in cands:
            c.split = split
    return cands, rejs
