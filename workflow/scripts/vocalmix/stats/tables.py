"""Tab-separated tables with a one-line title, and the SIMULATED label.

Every table of the listening test starts with a title line ``# <title>``; when the ratings
behind it come from the simulated listener panel the title ends with :data:`SIMULATED_NOTE`.
Read them with :func:`read_table` (or ``pandas.read_csv(path, sep="\\t", comment="#")``,
R: ``read.delim(path, comment.char = "#")``).
"""

from __future__ import annotations

import csv
import io as _io
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from vocalmix.files import atomic_path

__all__ = ["SIMULATED", "SIMULATED_NOTE", "title_of", "write_table", "read_table",
           "read_title"]

SIMULATED = "SIMULATED"
SIMULATED_NOTE = f"[{SIMULATED} listeners: not real ratings]"


def title_of(title: str, simulated: bool) -> str:
    """``title`` with the SIMULATED note when the ratings are simulated."""
    return f"{SIMULATED} - {title} {SIMULATED_NOTE}" if simulated else title


def _cell(v: Any, digits: int) -> str:
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
    text = str(v)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def write_table(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]],
                columns: Sequence[str], *, title: str, simulated: bool = False,
                digits: int = 10) -> None:
    """Write ``rows`` (mappings) as a TSV with a title line, atomically."""
    buf = _io.StringIO()
    buf.write(f"# {title_of(title, simulated)}\n")
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c), digits) for c in columns])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def read_title(path: str | os.PathLike) -> str:
    with open(path) as fh:
        first = fh.readline().rstrip("\n")
    return first[2:] if first.startswith("# ") else ""


def read_table(path: str | os.PathLike):
    """(title, pandas.DataFrame) of a table written by :func:`write_table`."""
    import pandas as pd

    path = Path(path)
    title = read_title(path)
    df = pd.read_csv(path, sep="\t", comment=None, skiprows=1 if title else 0,
                     keep_default_na=True, dtype=str)
    return title, df
