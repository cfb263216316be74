"""The ``vocalmix`` command line.

Every subcommand imports its implementation lazily, so ``vocalmix loudness`` loads only
numpy, scipy and soundfile (no torch, pandas or pedalboard) and starts fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Callable, Sequence

from vocalmix import __version__

__all__ = ["main", "build_parser"]

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def _json_number(x: float) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def _fmt(x: float, unit: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return f"   undefined {unit}"
    if math.isinf(x):
        return f"{'-inf' if x < 0 else 'inf':>12} {unit}"
    return f"{x:12.1f} {unit}"


def _error(command: str, message: str) -> None:
    print(f"vocalmix {command}: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------- loudness
def _add_loudness(sub) -> None:
    p = sub.add_parser(
        "loudness",
        help="measure integrated loudness, loudness range, max momentary/short-term, peak",
        description=(
            "Measure each file with the project's BS.1770-4 / EBU Tech 3341-3342 meter: "
            "integrated loudness (LUFS, gated), loudness range (LU), maximum momentary "
            "(400 ms) and short-term (3 s) loudness (LUFS), and sample peak (dBFS). Any "
            "format soundfile reads; files are streamed in constant memory at their own "
            "sample rate. Undefined values (e.g. digital silence) print as -inf/undefined, "
            "or null in JSON. Exit status 1 if any file could not be measured."),
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files to measure")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per file, one per line")
    _COMMANDS["loudness"] = _run_loudness


def _run_loudness(args: argparse.Namespace) -> int:
    from vocalmix.features.loudness import analyse_file
    from vocalmix.io import AudioError

    status = 0
    for path in args.files:
        try:
            result = analyse_file(path)
        except (AudioError, OSError) as exc:
            _error("loudness", str(exc))
            status = 1
            continue
        s = result.summary()
        if args.json:
            rec = {"file": path, **{k: _json_number(v) for k, v in s.items()}}
            print(json.dumps(rec), flush=True)
        else:
            print(path)
            print(f"  integrated loudness  {_fmt(s['integrated_lufs'], 'LUFS')}")
            print(f"  loudness range       {_fmt(s['loudness_range_lu'], 'LU')}")
            print(f"  max momentary        {_fmt(s['max_momentary_lufs'], 'LUFS')}")
            print(f"  max short-term       {_fmt(s['max_short_term_lufs'], 'LUFS')}")
            print(f"  sample peak          {_fmt(s['sample_peak_dbfs'], 'dBFS')}", flush=True)
    return status


# ----------------------------------------------------------------------------- parser
_REGISTRARS = [_add_loudness]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vocalmix",
        description="Automatic mixing of a singing vocal with a backing track.",
    )
    parser.add_argument("--version", action="version", version=f"vocalmix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in _REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        _error(args.command, "interrupted")
        return 130
