"""Finished songs (``commercial_mixes``) as corpus candidates with ``source=separated``.

Each entry of ``config.commercial_mixes`` is a folder (every audio file in it, not
recursive), a file, or a glob pattern (``**`` recursive), given as a string or as
``{path: ..., genre: ..., metadata: ...}``. ``metadata`` is a sheet (CSV or TSV, one row per
song, e.g. JamendoLyrics' ``metadata.csv``) whose file-name column (``file_column``; by default
the first of ``file``, ``filename``, ``filepath``, ``path``) names each song's audio file and
whose ``genre_column`` (default ``genre``) gives its genre; a song's row wins over the
entry's ``genre``, and a song missing from the sheet keeps the entry's genre (with a warning).
The sheet is read as untrusted text: at most :data:`MAX_SHEET_BYTES`, every problem an error
naming the sheet. ``activity`` is a folder of lyric-line timings (``<audio file stem>.csv``
with ``start_time,end_time`` in seconds, JamendoLyrics' ``lines/``): rule
``vocal_activity`` then checks the vocal-activity detection on each separated vocal against
them (:func:`activity_references`). Every song becomes a candidate track
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

import csv
import glob
import io
import logging
import unicodedata
from dataclasses import fields
from pathlib import Path

from vocalmix.config import schema_settings
from vocalmix.files import read_text_bounded
from vocalmix.corpus.tracks import (AUDIO_EXTS, Candidate, CorpusError, Rejection,
                                    genre_slug, slug, split_candidates)
from vocalmix.layout import SEPARATED_DATASET, SEPARATED_DIR

log = logging.getLogger(__name__)

__all__ = ["SeparatedSettings", "DATASET", "OUT_DIR", "MAX_SHEET_BYTES", "discover_mixes",
           "mix_entries", "read_sheet", "separated_paths", "activity_references"]

DATASET = SEPARATED_DATASET
OUT_DIR = SEPARATED_DIR
#: the largest metadata sheet read (a sheet of 100 000 songs is about 20 MB of CSV)
MAX_SHEET_BYTES = 64 * 2**20
FILE_COLUMNS = ("file", "filename", "filepath", "path")


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
    """``commercial_mixes`` entries as ``{path, genre, metadata, file_column, genre_column}``
    dicts (None where not given)."""
    out = []
    for entry in config.get("commercial_mixes") or []:
        if isinstance(entry, str):
            entry = {"path": entry}
        out.append({"path": str(entry["path"]), "genre": entry.get("genre"),
                    "metadata": entry.get("metadata"),
                    "file_column": entry.get("file_column"),
                    "genre_column": entry.get("genre_column") or "genre",
                    "activity": entry.get("activity")})
    return out


def _key(name: str) -> str:
    """A file name as a sheet key: its base name, Unicode-normalised (NFC) and case-folded
    (macOS writes decomposed accents; a sheet typed by hand may not)."""
    return unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name).casefold()


def _column(fields: list[str], wanted: str | tuple[str, ...], sheet: Path, key: str) -> str:
    by_lower = {f.strip().casefold(): f for f in fields}
    for name in (wanted,) if isinstance(wanted, str) else wanted:
        if name.casefold() in by_lower:
            return by_lower[name.casefold()]
    raise CorpusError(f"commercial_mixes metadata '{sheet}': no {key} column "
                      f"({' or '.join((wanted,) if isinstance(wanted, str) else wanted)}); "
                      f"columns: {', '.join(fields)}")


def read_sheet(path: str | Path, *, file_column: str | None = None,
               genre_column: str = "genre") -> dict[str, dict[str, str]]:
    """A metadata sheet: file-name key (see :func:`_key`) -> the song's row.

    CSV or TSV (the delimiter is the one of ``,``, ``;`` and tab that the header line uses
    most), UTF-8 (a byte-order mark is dropped).

    Raises
    ------
    CorpusError
        The sheet is missing, too large, not UTF-8 text, lacks the file-name or genre column,
        or names one file twice; the message names the sheet.
    """
    sheet = Path(path).expanduser()
    try:
        text = read_text_bounded(sheet, MAX_SHEET_BYTES, "a metadata sheet")
    except ValueError as exc:
        raise CorpusError(f"commercial_mixes metadata: {exc}") from None
    header = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = [f for f in (reader.fieldnames or []) if f is not None]
    fcol = _column(fields, file_column or FILE_COLUMNS, sheet, "file-name")
    gcol = _column(fields, genre_column, sheet, "genre")
    rows: dict[str, dict[str, str]] = {}
    try:
        for line, row in enumerate(reader, start=2):
            name = (row.get(fcol) or "").strip()
            if not name:
                continue
            k = _key(name)
            if k in rows:
                raise CorpusError(f"commercial_mixes metadata '{sheet}' line {line}: "
                                  f"'{name}' is listed twice")
            rows[k] = {**{c: v.strip() for c, v in row.items()
                          if isinstance(c, str) and isinstance(v, str)},
                       "genre": (row.get(gcol) or "").strip()}
    except csv.Error as exc:
        raise CorpusError(f"commercial_mixes metadata '{sheet}': {exc}") from None
    return rows


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


def activity_references(config: dict) -> dict[str, str]:
    """Separated track -> its lyric-line timings (``<activity folder>/<audio stem>.csv``) for
    every ``commercial_mixes`` entry with an ``activity`` folder; songs without a file there
    are left out (with a warning)."""
    out: dict[str, str] = {}
    for entry in mix_entries(config):
        if not entry["activity"]:
            continue
        folder = Path(entry["activity"]).expanduser()
        if not folder.is_dir():
            raise CorpusError(f"commercial_mixes activity '{folder}': not a folder")
        for f in _files(entry["path"]):
            ref = folder / f"{f.stem}.csv"
            if ref.is_file():
                out[f"{DATASET}_{slug(f.stem)}"] = str(ref)
            else:
                log.warning("commercial_mixes '%s': no lyric-line timings %s", f, ref)
    return out


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
        sheet = (read_sheet(entry["metadata"], file_column=entry["file_column"],
                            genre_column=entry["genre_column"])
                 if entry["metadata"] else None)
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
            genre = entry["genre"]
            if sheet is not None:
                row = sheet.get(_key(f.name))
                if row is None:
                    log.warning("commercial_mixes '%s': not in metadata sheet '%s'; genre %s",
                                f, entry["metadata"], genre or "unknown")
                elif row["genre"]:
                    genre = row["genre"]
            cands.append(Candidate(
                track_id=tid, dataset=DATASET, adapter="separated", split="train",
                source="separated", genre=genre_slug(genre),
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
