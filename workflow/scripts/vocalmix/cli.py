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


# ----------------------------------------------------------------------------- reverb-fit
def _add_reverb_fit(sub) -> None:
    p = sub.add_parser(
        "reverb-fit",
        help="fit the project's reverb to a room (impulse response or wet recording)",
        description=(
            "Fit the project's reverb (pedalboard Reverb with size, pre-delay and send "
            "filters) to a target room with a genetic algorithm, so that its impulse "
            "response has the target's T60 per octave band, EDT, C50, C80, DRR and "
            "pre-delay. --ir takes a measured impulse response; --wet a reverberant "
            "recording (e.g. a wet vocal), from which mid-band T60 and DRR are estimated "
            "blindly at note offsets. Prints the fitted parameters and the target and "
            "fitted descriptors."),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ir", metavar="FILE", help="impulse response (any format soundfile reads)")
    src.add_argument("--wet", metavar="FILE", help="wet recording to estimate the room from")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--seed", type=int, default=0, help="seed of the genetic algorithm (default 0)")
    p.add_argument("--evaluations", type=int, default=320,
                   help="maximum number of reverb evaluations (default 320)")
    _COMMANDS["reverb-fit"] = _run_reverb_fit


def _run_reverb_fit(args: argparse.Namespace) -> int:
    from vocalmix.features.reverb_fit import fit_ir, fit_wet
    from vocalmix.io import AudioError, read_audio

    path = args.ir or args.wet
    try:
        audio, sr = read_audio(path)
        fit = (fit_ir if args.ir else fit_wet)(audio, sr, seed=args.seed,
                                               max_evaluations=args.evaluations)
    except (AudioError, OSError) as exc:
        _error("reverb-fit", str(exc))
        return 1
    except ValueError as exc:
        _error("reverb-fit", f"{path}: {exc}")
        return 1
    keys = ("t60_s", "edt_s", "c50_db", "c80_db", "drr_db", "predelay_ms")
    if args.json:
        rec = {"file": path, "params": fit.settings.to_dict(),
               "target": {k: fit.target.to_dict()[k] for k in (*keys, "t60_mid_s")},
               "fitted": {k: fit.fitted.to_dict()[k] for k in (*keys, "t60_mid_s")},
               "cost": fit.cost, "evaluations": fit.evaluations, "seconds": fit.seconds}
        print(json.dumps(rec, allow_nan=False, default=_json_number))
        return 0
    t, f = fit.target.to_dict(), fit.fitted.to_dict()

    def cell(v, fmt):
        return "-" if v is None else format(v, fmt)

    print(f"{path}: fitted in {fit.seconds:.1f} s, {fit.evaluations} evaluations, "
          f"cost {fit.cost:.2f}")
    print("  parameters")
    for k, v in fit.settings.to_dict().items():
        print(f"    {k:12s} {v:10.3f}")
    print(f"  {'descriptor':14s} {'target':>10s} {'fitted':>10s}")
    for band in t["t60_s"]:
        print(f"  T60 {band:>5s} Hz   {cell(t['t60_s'][band], '10.3f')} "
              f"{cell(f['t60_s'].get(band), '10.3f')}  s")
    for k, unit in (("edt_s", "s"), ("c50_db", "dB"), ("c80_db", "dB"), ("drr_db", "dB"),
                    ("predelay_ms", "ms")):
        print(f"  {k:14s} {cell(t[k], '10.2f')} {cell(f[k], '10.2f')}  {unit}")
    return 0


# ----------------------------------------------------------------------------- mix
def _add_mix(sub) -> None:
    p = sub.add_parser(
        "mix",
        help="mix a singing vocal with a backing track",
        description=(
            "Mix a raw singing vocal with a backing track and write the mix (WAV, 24-bit, "
            "true peak <= -1 dBTP) and the recipe used (JSON). Any format soundfile reads, "
            "any sample rates (the vocal is resampled to the backing's) and channel counts "
            "(a mono vocal is a centred source); a vocal of another length is padded or "
            "trimmed to the backing, with a warning."),
        epilog=(
            "systems: 'rule' analyses the tracks and applies published mixing rules (level "
            "from the genre's vocal-to-backing ratio, masking-reduction EQ, compression to the "
            "genre's loudness range, reverb from tempo and crest factor); 'model' uses a "
            "trained data-driven model (--model); 'preset' is a karaoke app's fixed template."),
    )
    p.add_argument("--vocal", required=True, metavar="V", help="the raw vocal take")
    p.add_argument("--backing", required=True, metavar="B", help="the backing track (beat)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the mix to write (WAV)")
    p.add_argument("--system", choices=("rule", "model", "preset"), default="rule",
                   help="mixing system (default: rule)")
    p.add_argument("--model", metavar="DIR",
                   help="trained model directory for --system model (results/models)")
    p.add_argument("--genre", metavar="G",
                   help="genre of the song (a row of the genre statistics); default: predicted "
                        "from the backing when a genre classifier is available, else the "
                        "overall average")
    p.add_argument("--genre-stats", metavar="TSV",
                   help="genre statistics table (results/features/genre_stats.tsv); default: "
                        "the packaged priors")
    p.add_argument("--pitch-correct", action="store_true",
                   help="snap the vocal's notes to the key of the backing (off by default)")
    p.add_argument("--recipe-out", metavar="R.json",
                   help="where to write the recipe (default: OUT with .recipe.json)")
    p.add_argument("--recipe-in", metavar="R.json",
                   help="render this recipe instead of choosing one (edit a value, re-render)")
    _COMMANDS["mix"] = _run_mix


def _run_mix(args: argparse.Namespace) -> int:
    from vocalmix.mixing.api import MixError, mix_files

    try:
        summary = mix_files(
            vocal=args.vocal, backing=args.backing, output=args.output, system=args.system,
            model_dir=args.model, genre=args.genre, genre_stats=args.genre_stats,
            pitch_correct=args.pitch_correct, recipe_out=args.recipe_out,
            recipe_in=args.recipe_in, warn=lambda msg: _error("mix", f"warning: {msg}"))
    except MixError as exc:
        _error("mix", str(exc))
        return 2
    for line in summary:
        print(line)
    return 0


# ----------------------------------------------------------------------------- parser
_REGISTRARS = [_add_loudness, _add_reverb_fit, _add_mix]


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
