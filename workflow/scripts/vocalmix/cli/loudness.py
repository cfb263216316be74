"""``vocalmix loudness``: BS.1770-4 / EBU Tech 3341-3342 loudness of audio files."""

from __future__ import annotations

import argparse
import json

from vocalmix.audio import AudioError
from vocalmix.cli._common import error, fmt, json_number

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vocalmix.measure.loudness import analyse_file

    status = 0
    for path in args.files:
        try:
            result = analyse_file(path)
        except (AudioError, OSError) as exc:  # the file is named; the others still measured
            error("loudness", str(exc))
            status = 2
            continue
        s = result.summary()
        if args.json:
            rec = {"file": path, **{k: json_number(v) for k, v in s.items()}}
            print(json.dumps(rec), flush=True)
        else:
            print(path)
            print(f"  integrated loudness  {fmt(s['integrated_lufs'], 'LUFS')}")
            print(f"  loudness range       {fmt(s['loudness_range_lu'], 'LU')}")
            print(f"  max momentary        {fmt(s['max_momentary_lufs'], 'LUFS')}")
            print(f"  max short-term       {fmt(s['max_short_term_lufs'], 'LUFS')}")
            print(f"  sample peak          {fmt(s['sample_peak_dbfs'], 'dBFS')}", flush=True)
    return status
