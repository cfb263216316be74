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

from vocalmix import __version__
from vocalmix.cli import genre, listening, loudness, mix, reverb_fit, separate, stats
from vocalmix.cli._common import error, expected_error

__all__ = ["main", "build_parser"]

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
