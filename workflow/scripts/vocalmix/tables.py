"""Tables as files: one TSV (or CSV) writer for every table the pipeline writes, with the
cell format each table needs, atomically and byte-stable (same rows, same bytes).

A cell format is a function from a value to its text; :func:`fixed`, :func:`general`,
:func:`exact` and :func:`text` cover the project's tables. ``None`` is always an empty cell.
"""

from __future__ import annotations

import csv
import io
import math
import os
from typing import Any, Callable, Iterable, Mapping, Sequence

from vocalmix.files import atomic_path

__all__ = ["Cell", "text", "fixed", "general", "exact", "write_table", "write_tsv"]

Cell = Callable[[Any], str]


def text(v: Any) -> str:
    """``str(v)``, as the csv module writes a value (``None`` -> empty)."""
    return "" if v is None else str(v)


def fixed(digits: int, *, nonfinite: str | None = "") -> Cell:
    """Floats with ``digits`` decimals; NaN and infinities become ``nonfinite`` (``None``:
    written as Python formats them, ``nan``/``inf``); other values as :func:`text`."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            if nonfinite is not None and not math.isfinite(v):
                return nonfinite
            return f"{v:.{digits}f}"
        return text(v)

    return cell


def general(digits: int) -> Cell:
    """Numbers in ``.{digits}g`` notation (numpy scalars too), booleans as ``true``/``false``,
    NaN empty, text with tabs and line breaks as spaces."""

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) or type(v).__name__.startswith("float"):
            v = float(v)
            if math.isnan(v):
                return ""
            if math.isinf(v):
                return "inf" if v > 0 else "-inf"
            return format(v, f".{digits}g")
        if type(v).__name__.startswith(("int", "uint")):
            return str(int(v))
        return str(v).replace("\t", " ").replace("\r", " ").replace("\n", " ")

    return cell


def exact(v: Any) -> str:
    """Floats (numpy's too) at full precision (``repr``), so reading gives the same number."""
    import numpy as np

    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return text(v)


def write_table(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]],
                columns: Sequence[str], *, cell: Cell = text, delimiter: str = "\t",
                preamble: str = "") -> None:
    """Write ``rows`` (mappings; a missing key is an empty cell) under a header of
    ``columns``, each value through ``cell``, atomically. ``preamble`` (whole lines) goes
    before the header."""
    buf = io.StringIO()
    buf.write(preamble)
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([cell(r.get(c)) for c in columns])
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            fh.write(buf.getvalue())


def write_tsv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> None:
    """The pipeline's plain result table: TSV, floats with 4 decimals, non-finite empty;
    ``columns`` default to the first row's keys."""
    columns = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    write_table(path, rows, columns, cell=fixed(4))
