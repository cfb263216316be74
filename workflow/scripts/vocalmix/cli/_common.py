"""What the subcommands share: messages, number formatting, the expected errors and the check
of the outputs (the configuration's defaults are the settings classes' own).

Outputs (:func:`check_outputs`, called by every command that writes, before its work): an
output that resolves to one of the command's inputs is always refused; an existing output
is replaced only when it is the command's *own* -- a file this command wrote before, as
recognised by its :class:`Output`'s ``is_own`` (a mix by the vocalmix recipe beside it, a
recipe by its keys, a separation folder's WAVs by its ``report.json``, a table by its
header line, a simulated WAET result by its marker) -- or with ``--force``. So the same
command run again with the same outputs works without ``--force``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

__all__ = ["error", "fmt", "json_number", "CliError", "expected_error",
           "Output", "check_outputs", "is_json_with", "starts_with", "contains", "own_if",
           "add_force"]


def json_number(x: float) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def fmt(x: float, unit: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return f"   undefined {unit}"
    if math.isinf(x):
        return f"{'-inf' if x < 0 else 'inf':>12} {unit}"
    return f"{x:12.1f} {unit}"


def error(command: str, message: str) -> None:
    print(f"vocalmix {command}: {message}", file=sys.stderr)


# --------------------------------------------------------------------------- expected errors
class CliError(Exception):
    """An expected problem with the user's files or arguments: :func:`vocalmix.cli.main`
    prints it as one line ``vocalmix CMD: FILE: problem`` and exits with status 2."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


def expected_error(exc: BaseException) -> str | None:
    """The one-line message of an expected error, None for an unexpected one (a bug: it
    keeps its traceback).

    Expected are :class:`CliError`; every exception class the package defines (module
    ``vocalmix.*``: :class:`~vocalmix.audio.AudioError`, ``MixError``, ``SeparationError``,
    ``StatsError``, ``ConfigError``, ``ExportError``, ``WaetResultError``, ``GenreError``,
    ``ModelFileError``...), which are raised on purpose with the file named; and an
    :class:`OSError` that names its file (a missing input, an output that cannot be
    written: no such folder, permission denied, a folder where a file goes).
    """
    if isinstance(exc, CliError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, Exception) and type(exc).__module__.split(".")[0] == "vocalmix":
        return str(exc)
    return None


# --------------------------------------------------------------------------- outputs
@dataclass(frozen=True)
class Output:
    """One path a command writes.

    Attributes
    ----------
    path : str or PathLike
        The file (or, with ``folder``, the folder) written.
    is_own : callable, optional
        ``is_own(path) -> bool`` for an existing ``path``: True when this command wrote it
        before (so that running the same command again replaces it without ``--force``).
        None: no existing file is the command's own.
    folder : bool
        The output is a folder (it may exist; a file there is refused).
    """

    path: str | os.PathLike
    is_own: Callable[[Path], bool] | None = None
    folder: bool = False


def _same(a: Path, b: Path) -> bool:
    """Same file after resolving links and ``..`` (``os.path.samefile`` where both exist)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _probe_writable(path: Path) -> None:
    """Raise CliError unless a file can be created in ``path``'s folder (or in the nearest
    folder that exists above it, where the missing ones would be made)."""
    parent = Path(os.path.abspath(path)).parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise CliError(path, f"cannot be written: {parent} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".vocalmix-probe.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise CliError(path, f"cannot be written ({exc.strerror or exc} in {parent})") from None
    os.close(fd)
    os.unlink(probe)


def check_outputs(inputs: Iterable[str | os.PathLike | None],
                  outputs: Iterable[Output], *, force: bool = False) -> None:
    """Refuse outputs that would destroy something, before any work is done.

    Raises :class:`CliError` (naming the path) when an output

    * is one of ``inputs`` (the same file after resolving links and ``..``) -- even with
      ``force`` (a command that writes into a folder lists each file it writes there);
    * is another of the outputs (e.g. ``--recipe-out`` equal to ``-o``);
    * is a folder where a file is written, or a file where a folder is;
    * cannot be written (no such folder, read-only, ``/proc``...);
    * exists, is not the command's own (:attr:`Output.is_own`) and ``force`` is false.

    ``None`` entries of ``inputs`` (options not given) are ignored.
    """
    ins = [Path(p) for p in inputs if p is not None and str(p) != ""]
    seen: list[Path] = []
    for out in outputs:
        path = Path(out.path)
        for inp in ins:
            if _same(path, inp):
                raise CliError(path, f"is the input {inp}; choose another output")
        for other in seen:
            if _same(path, other):
                raise CliError(path, "is written twice (two outputs name the same file)")
        seen.append(path)
        if out.folder:
            if path.exists() and not path.is_dir():
                raise CliError(path, "exists and is not a folder")
            if not path.exists():
                _probe_writable(path / "x")
            continue
        if path.is_dir():
            raise CliError(path, "is a folder; give a file name")
        _probe_writable(path)
        if path.exists() and not force and not (out.is_own is not None and out.is_own(path)):
            raise CliError(path, "exists and was not written by this command; use --force "
                                 "to replace it")


def is_json_with(*keys: str) -> Callable[[Path], bool]:
    """``is_own`` for a JSON object with all of ``keys`` (what vocalmix writes there)."""

    def own(path: Path) -> bool:
        try:
            with open(path, "rb") as fh:
                obj = json.loads(fh.read(1 << 24))
        except (OSError, ValueError):
            return False
        return isinstance(obj, dict) and all(k in obj for k in keys)

    return own


def starts_with(prefix: str) -> Callable[[Path], bool]:
    """``is_own`` for a text file that starts with ``prefix`` (a table's header line)."""

    def own(path: Path) -> bool:
        try:
            with open(path, "rb") as fh:
                return fh.read(len(prefix.encode())).decode("utf-8", "replace") == prefix
        except OSError:
            return False

    return own


def contains(marker: str, first_bytes: int = 1 << 16) -> Callable[[Path], bool]:
    """``is_own`` for a file whose first ``first_bytes`` contain ``marker``."""

    def own(path: Path) -> bool:
        try:
            with open(path, "rb") as fh:
                return marker.encode() in fh.read(first_bytes)
        except OSError:
            return False

    return own


def own_if(witness: Path, test: Callable[[Path], bool]) -> Callable[[Path], bool]:
    """``is_own`` for a file that is the command's own when ``witness`` passes ``test``
    (a mix is recognised by its recipe, a separation's WAVs by its ``report.json``)."""
    return lambda _path: witness.exists() and test(witness)


def add_force(parser) -> None:
    """The ``--force`` option shared by every command that writes."""
    parser.add_argument("--force", action="store_true",
                        help="replace existing output files that this command did not write "
                             "(an output that is one of the inputs is refused even so)")
