"""``vocalmix reverb-fit``: fit the project's reverb to a room response or a wet recording."""

from __future__ import annotations

import argparse
import json

from vocalmix.audio import AudioError, read_audio
from vocalmix.cli._common import error, json_number

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
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
    p.add_argument("--evaluations", type=int, default=96,
                   help="maximum number of reverb evaluations (default 96)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vocalmix.features.reverb_fit import fit_ir, fit_wet

    path = args.ir or args.wet
    try:
        audio, sr = read_audio(path)
        fit = (fit_ir if args.ir else fit_wet)(audio, sr, seed=args.seed,
                                               max_evaluations=args.evaluations)
    except (AudioError, OSError) as exc:
        error("reverb-fit", str(exc))
        return 1
    except ValueError as exc:
        error("reverb-fit", f"{path}: {exc}")
        return 1
    keys = ("t60_s", "edt_s", "c50_db", "c80_db", "drr_db", "predelay_ms")
    if args.json:
        rec = {"file": path, "params": fit.settings.to_dict(),
               "target": {k: fit.target.to_dict()[k] for k in (*keys, "t60_mid_s")},
               "fitted": {k: fit.fitted.to_dict()[k] for k in (*keys, "t60_mid_s")},
               "cost": fit.cost, "evaluations": fit.evaluations, "seconds": fit.seconds}
        print(json.dumps(rec, allow_nan=False, default=json_number))
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
