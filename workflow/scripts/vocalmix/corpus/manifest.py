"""The track manifest ``results/corpus/tracks.tsv`` and the rejected-tracks table.

One row per accepted track; columns are listed in :data:`COLUMNS` and described (with
types and allowed values) in ``workflow/schemas/tracks.schema.yaml``, which every read
and write validates against.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Iterable

from vocalmix.tables import write_table

__all__ = ["COLUMNS", "REJECTED_COLUMNS", "ManifestError", "write_manifest", "read_manifest",
           "write_rejected", "read_rejected", "validate_rows"]

#: Column order of tracks.tsv.
COLUMNS = (
    "track_id", "dataset", "adapter", "split", "source", "genre", "genre_source",
    "genre_predicted", "genre_confidence", "tempo_bpm", "duration_s", "sample_rate",
    "vocal_channels", "backing_channels", "weight",
    "vocal", "backing", "mixture", "raw_vocal", "room_ir", "truth", "origin", "checksums",
    "notes",
)
NUMERIC = {"genre_confidence": float, "tempo_bpm": float, "duration_s": float,
           "sample_rate": int, "vocal_channels": int, "backing_channels": int, "weight": float}
REJECTED_COLUMNS = ("track_id", "dataset", "file", "reason")


class ManifestError(ValueError):
    """A manifest row that does not satisfy the schema."""


def _schema() -> dict:
    from vocalmix.config import load_schema

    return load_schema("tracks.schema.yaml")


def validate_rows(rows: Iterable[dict], *, path: str | os.PathLike = "tracks.tsv") -> None:
    """Validate typed rows against the track schema; raise ManifestError naming row and column."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(_schema())
    problems = []
    seen = set()
    for i, row in enumerate(rows):
        clean = {k: v for k, v in row.items() if v is not None and v != ""}
        for err in validator.iter_errors(clean):
            where = ".".join(map(str, err.absolute_path)) or "(row)"
            problems.append(f"row {i + 1} ({row.get('track_id', '?')}), column {where}: "
                            f"{err.message}")
        if row.get("track_id") in seen:
            problems.append(f"row {i + 1}: duplicate track_id {row.get('track_id')!r}")
        seen.add(row.get("track_id"))
    if problems:
        raise ManifestError(f"{path}: invalid track manifest:\n  " + "\n  ".join(problems[:20]))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.6g}"
    return str(value)


def write_manifest(path: str | os.PathLike, rows: list[dict]) -> None:
    """Validate and write rows (sorted by track_id) as TSV, atomically."""
    rows = sorted(rows, key=lambda r: r["track_id"])
    validate_rows(rows, path=path)
    write_table(path, rows, COLUMNS, cell=_cell)


def read_manifest(path: str | os.PathLike) -> list[dict]:
    """Read and validate tracks.tsv; numeric columns are typed, empty cells are None."""
    path = Path(path)
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        missing = [c for c in ("track_id", "split", "source") if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = []
        for raw in reader:
            row: dict = {}
            for key, value in raw.items():
                if value is None or value == "":
                    row[key] = None
                elif key in NUMERIC:
                    row[key] = NUMERIC[key](float(value))
                else:
                    row[key] = value
            rows.append(row)
    validate_rows(rows, path=path)
    return rows


def write_rejected(path: str | os.PathLike, rows: list[dict]) -> None:
    rows = sorted(rows, key=lambda r: (r.get("dataset") or "", r.get("track_id") or "",
                                       r.get("file") or ""))
    write_table(path, rows, REJECTED_COLUMNS,
                cell=lambda v: _cell(v).replace("\t", " ").replace("\n", " "))


def read_rejected(path: str | os.PathLike) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))
