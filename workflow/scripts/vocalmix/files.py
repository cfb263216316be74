"""Writing results safely: atomic file replacement, byte-stable JSON and figures.

Every output of the pipeline goes through :func:`atomic_path`, so a job killed mid-write
never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

__all__ = ["atomic_path", "atomic_paths", "write_json", "read_json", "save_figure",
           "read_text_bounded"]


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import (os.umask can only be read by setting it)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    A job killed mid-write leaves only a ``.tmp`` file that no later job reads, never a
    half-written output under the final name; the next write of ``path`` (the rerun)
    removes such leftovers.
    """
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextmanager
def atomic_paths(paths: Iterable[str | os.PathLike]) -> Iterator[list[Path]]:
    """:func:`atomic_path` for a set of files written together: yield one temporary path
    beside each; only when the block succeeds are they all renamed onto ``paths``.

    A failure (or a kill) before the renames leaves none of the new files under their
    final names, so the outputs stay a set (e.g. a separation's two WAVs and the report
    that describes them).
    """
    finals = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for path in finals:
            path.parent.mkdir(parents=True, exist_ok=True)
            # a job killed by SIGKILL cannot clean up: its rerun removes what it left here
            for stale in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
                stale.unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            temps.append(Path(tmp))
        yield list(temps)
        for tmp in temps:
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 -> the usual file mode
        for tmp, path in zip(temps, finals):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 90) -> None:
    """Write a matplotlib figure as PNG, atomically, without the "Software" metadata
    (so the same figure gives the same bytes), and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON with sorted keys (same object, same bytes), atomically.

    Non-finite floats (undefined loudness of silence, say) become ``null``: strict JSON.
    """
    text = json.dumps(_finite(obj), indent=2, sort_keys=True, allow_nan=False,
                      default=_json_default)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")


def _finite(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as fh:
        return json.load(fh)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_text_bounded(path: str | os.PathLike, max_bytes: int, what: str) -> str:
    """The UTF-8 text (a byte-order mark dropped) of a file from someone else, read only up
    to ``max_bytes`` (one byte more tells a larger file, whatever its size on disk says).

    Raises
    ------
    ValueError
        ``"<path>: <problem>"``: unreadable, larger than ``max_bytes`` (more than ``what``
        -- e.g. "a metadata sheet" -- may have), or not UTF-8.
    """
    def fail(problem: str) -> ValueError:
        return ValueError(f"{os.fspath(path)}: {problem}")

    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise fail(f"cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise fail(f"larger than {max_bytes} bytes, more than {what} may have")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text (byte {exc.start})") from None
