"""The ``vocalmix`` command line: one module per subcommand.

Each module (:mod:`.loudness`, :mod:`.reverb_fit`, :mod:`.mix`, :mod:`.genre`,
:mod:`.listening`, :mod:`.stats`, :mod:`.separate`) has ``add_parser(subparsers)``, which
registers its ``run(args) -> exit status``, and imports its implementation lazily inside
``run``, so ``vocalmix loudness`` loads only numpy, scipy and soundfile (no torch, pandas or
pedalboard) and starts fast. Expected errors print one line naming the file and exit 2.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from vocalmix.hugepages import no_hugepage_advice

no_hugepage_advice()  # before numpy's import below (vocalmix.hugepages: measured faster)

from vocalmix import __version__
from vocalmix.cli import genre, listening, loudness, mix, reverb_fit, separate, stats
from vocalmix.cli._common import error, expected_error

__all__ = ["main", "entry", "build_parser", "keep_freed_memory"]

_SUBCOMMANDS = (loudness, reverb_fit, mix, genre, listening, stats, separate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vocalmix",
        description="Automatic mixing of a singing vocal with a backing track.",
    )
    parser.add_argument("--version", action="version", version=f"vocalmix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep freed memory for reuse instead of handing it back.

    A command works on whole songs: a 3-minute stereo float32 array is 63 MB, and every
    temporary that large is an ``mmap`` of fresh pages (glibc maps blocks over 32 MB at
    most) whose first touch faults each page in; freed, it is unmapped, and the next one
    faults again. On the 2-core reference machine that page faulting was 1.5-3.6 s of
    system time in a 7-11 s ``vocalmix mix`` of a 3-minute song. With mmap off and a high
    trim threshold, freed blocks are reused from the heap: 0.4-0.8 s of system time, for
    3.5 % more peak memory (642 -> 664 MB). Only for the command-line process
    (:func:`entry`); glibc only (elsewhere nothing happens). Returns whether it applied.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 1 << 30))


def entry() -> int:
    """The ``vocalmix`` executable (and ``python -m vocalmix``): :func:`keep_freed_memory`,
    then :func:`main` on the command line's arguments."""
    keep_freed_memory()
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; its exit status.

    Expected errors (:func:`vocalmix.cli._common.expected_error`: the package's own error
    classes, :class:`~vocalmix.cli._common.CliError`, an OSError naming its file) print one
    line ``vocalmix CMD: FILE: problem`` and exit 2; any other exception is a bug and keeps
    its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    command = " ".join(filter(None, (args.command, getattr(args, "listening_command", None))))
    try:
        return args.run(args)
    except KeyboardInterrupt:
        error(command, "interrupted")
        return 130
    except Exception as exc:
        message = expected_error(exc)
        if message is None:
            raise
        error(command, message)
        return 2
