"""Tab-separated tables with a one-line title, and the SIMULATED label.

Every table of the listening test starts with a title line ``# <title>``; when the ratings
behind it come from the simulated listener panel the title ends with :data:`SIMULATED_NOTE`.
Read them with :func:`read_table` (or ``pandas.read_csv(path, sep="\\t", comment="#")``,
R: ``read.delim(path, comment.char = "#")``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from vocalmix import tables

__all__ = ["SIMULATED", "SIMULATED_NOTE", "title_of", "write_table", "read_table",
           "read_title"]

SIMULATED = "SIMULATED"
SIMULATED_NOTE = f"[{SIMULATED} listeners: not real ratings]"


def title_of(title: str, simulated: bool) -> str:
    """``title`` with the SIMULATED note when the ratings are simulated."""
    return f"{SIMULATED} - {title} {SIMULATED_NOTE}" if simulated else title


def write_table(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]],
                columns: Sequence[str], *, title: str, simulated: bool = False,
                digits: int = 10) -> None:
    """Write ``rows`` (mappings) as a TSV with a title line, atomically."""
    tables.write_table(path, rows, columns, cell=tables.general(digits),
                       preamble=f"# {title_of(title, simulated)}\n")


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
