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
from vocalmix.audio import AudioError, read_audio, write_audio
from vocalmix.files import write_json

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
    from vocalmix.measure.loudness import analyse_file
    from vocalmix.audio import AudioError

    status = 0
    for path in args.files:
        try:
            result = analyse_file(path)
        except (AudioError, OSError) as exc:  # the file is named; the others still measured
            _error("loudness", str(exc))
            status = 2
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
    from vocalmix.audio import AudioError, read_audio

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
            "systems: 'rule_based' analyses the tracks and applies published mixing rules "
            "(level from the genre's vocal-to-backing ratio, masking-reduction EQ, compression "
            "to the genre's loudness range, reverb from tempo and crest factor); "
            "'data_driven' uses the trained models (--model); 'preset' is a karaoke app's "
            "fixed template (the listening test's stand-in for a commercial tool)."),
    )
    p.add_argument("--vocal", required=True, metavar="V", help="the raw vocal take")
    p.add_argument("--backing", required=True, metavar="B", help="the backing track (beat)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the mix to write (WAV)")
    p.add_argument("--system", choices=("rule_based", "data_driven", "preset"),
                   default="rule_based", help="mixing system (default: rule_based)")
    p.add_argument("--model", metavar="DIR",
                   help="trained model directory for --system data_driven (results/models)")
    p.add_argument("--genre", metavar="G",
                   help="genre of the song (a row of the genre statistics); default: predicted "
                        "from the backing when a genre classifier is available and its "
                        "probability reaches --genre-threshold, else the overall average")
    p.add_argument("--genre-model", metavar="PATH",
                   help="genre classifier (model.json or its directory) for the prediction; "
                        "default: results/genre/model.json where it exists; 'none' to skip")
    p.add_argument("--genre-threshold", metavar="P", type=float, default=None,
                   help="least probability at which a predicted genre is used (default 0.5, "
                        "the pipeline's genre.confidence_threshold)")
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
            recipe_in=args.recipe_in, genre_model=args.genre_model,
            genre_threshold=args.genre_threshold,
            warn=lambda msg: _error("mix", f"warning: {msg}"))
    except MixError as exc:
        _error("mix", str(exc))
        return 2
    for line in summary:
        print(line)
    return 0


# ----------------------------------------------------------------------------- genre
def _add_genre(sub) -> None:
    p = sub.add_parser(
        "genre",
        help="predict the genre of a backing track (top-3 probabilities)",
        description=(
            "Predict the genre of each backing track with the pipeline's genre classifier "
            "(logistic regression on log-mel, spectral-shape, rhythm and loudness-range "
            "features of the backing, trained on the training split's metadata genres) and "
            "print the three most probable genres. A prediction below the threshold is "
            "marked: the rule-based mixer would use the overall average instead."),
    )
    p.add_argument("files", nargs="+", metavar="BACKING", help="backing tracks (any format "
                   "soundfile reads)")
    p.add_argument("--model", metavar="PATH", default=None,
                   help="genre classifier (model.json or its directory; default "
                        "results/genre/model.json)")
    p.add_argument("--threshold", metavar="P", type=float, default=None,
                   help="confidence threshold to report against (default 0.5)")
    p.add_argument("--top", metavar="K", type=int, default=3,
                   help="how many genres to list (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object per file")
    _COMMANDS["genre"] = _run_genre


def _run_genre(args: argparse.Namespace) -> int:
    from vocalmix.models.genre import (DEFAULT_MODEL_PATH, DEFAULT_THRESHOLD, GenreError,
                                       load_classifier)
    from vocalmix.audio import AudioError

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    try:
        model = load_classifier(args.model or DEFAULT_MODEL_PATH)
    except GenreError as exc:
        _error("genre", str(exc))
        return 2
    if not model.trained:
        _error("genre", f"{args.model or DEFAULT_MODEL_PATH}: {model.reason}")
        return 2
    status = 0
    for path in args.files:
        try:
            pred = model.predict_file(path)
        except (AudioError, GenreError, ValueError, OSError) as exc:
            _error("genre", str(exc))
            status = 1
            continue
        top = pred.top(max(1, args.top))
        confident = pred.confidence >= threshold
        if args.json:
            print(json.dumps({"file": path, "genre": pred.genre, "confidence": pred.confidence,
                              "confident": confident, "threshold": threshold,
                              "top": [{"genre": g, "probability": p} for g, p in top]}),
                  flush=True)
            continue
        note = "" if confident else (f"  (below the threshold {threshold:.2f}: the mixer would "
                                     "use the overall average)")
        print(f"{path}: {pred.genre} ({pred.confidence:.2f}){note}")
        for i, (g, p) in enumerate(top, 1):
            print(f"  {i}. {g:20s} {p:6.3f}")
    return status


# ----------------------------------------------------------------------------- listening
def _config_defaults() -> dict:
    from vocalmix.config import validate_config

    return validate_config({})


def _add_listening(sub) -> None:
    p = sub.add_parser(
        "listening",
        help="export the WAET listening test, import its results, simulate a panel",
        description=(
            "The listening test in the Web Audio Evaluation Tool (WAET). 'export' writes a "
            "folder laid out like a WAET root (tests/vocalmix.xml, media/vocalmix/, KEY.tsv); "
            "'import' turns WAET result XMLs (saves/*.xml; only complete sessions) into a "
            "ratings table; 'simulate' writes simulated listeners' results in WAET's format."),
    )
    lsub = p.add_subparsers(dest="listening_command", metavar="ACTION")
    lsub.required = True
    e = lsub.add_parser("export", help="write the WAET test (XML, stimuli, KEY.tsv)",
                        description="Write the WAET test from the renders table "
                                    "(results/renders/renders.tsv) into a WAET-root folder.")
    e.add_argument("--renders", default="results/renders/renders.tsv", metavar="TSV",
                   help="renders table (default results/renders/renders.tsv); relative paths "
                        "in it are taken from the current directory")
    e.add_argument("-o", "--output", default="listening_test/waet", metavar="DIR",
                   help="the WAET-root folder to write (default listening_test/waet)")
    e.add_argument("--interface", choices=("MUSHRA", "APE"), default=None,
                   help="WAET interface (default: config listening.interface, MUSHRA)")
    e.add_argument("--no-open-reference", action="store_true",
                   help="no open reference button on the pages")
    e.add_argument("--max-items", type=int, default=None, metavar="N",
                   help="at most N pages (a seeded choice of the tracks)")
    e.add_argument("--seed", type=int, default=None,
                   help="seed of the page and element order (default: config seed)")
    i = lsub.add_parser("import", help="WAET result XMLs -> ratings table",
                        description="Read every WAET result XML in DIR (only sessions with "
                                    "state=\"complete\"; abandoned ones are counted) and write "
                                    "the ratings table (grades 0-100). A malformed or foreign "
                                    "file is reported by name and skipped (exit status 1).")
    i.add_argument("directory", metavar="DIR", help="folder of WAET result XMLs (saves/)")
    i.add_argument("-o", "--output", default="results/analysis/ratings.tsv", metavar="TSV",
                   help="ratings table to write (default results/analysis/ratings.tsv)")
    i.add_argument("--key", metavar="KEY.tsv", default=None,
                   help="the export's KEY.tsv (element id -> track, condition); default "
                        "listening_test/waet/KEY.tsv where it exists. Without a key the track "
                        "is the page id and the condition the element's name")
    i.add_argument("--no-key", action="store_true", help="do not use any KEY.tsv")
    i.add_argument("--summary", metavar="JSON", default=None,
                   help="also write the import summary (files, complete, abandoned, skipped)")
    s = lsub.add_parser("simulate", help="simulated listeners' WAET result files",
                        description="Write simulated listeners' results in WAET's result "
                                    "format for an exported test (the rating model is "
                                    "documented in vocalmix.listening.simulate).")
    s.add_argument("--waet", default="listening_test/waet", metavar="DIR",
                   help="the exported WAET-root folder (default listening_test/waet)")
    s.add_argument("--metrics", default="results/evaluation/per_track.tsv", metavar="TSV",
                   help="objective metrics per track and condition")
    s.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder for the result files")
    s.add_argument("-n", "--listeners", type=int, default=None,
                   help="complete sessions (default: config listening.simulation.listeners)")
    s.add_argument("--seed", type=int, default=None, help="seed (default: config seed)")
    _COMMANDS["listening"] = _run_listening


def _run_listening(args: argparse.Namespace) -> int:
    import os

    defaults = _config_defaults()
    lcfg = defaults["listening"]
    seed = defaults["seed"] if getattr(args, "seed", None) is None else args.seed
    if args.listening_command == "export":
        from vocalmix.audio import AudioError
        from vocalmix.listening.export import ExportError, export_test
        from vocalmix.listening.spec import StructureError

        try:
            s = export_test(args.renders, args.output,
                            interface=args.interface or lcfg["interface"],
                            open_reference=not args.no_open_reference,
                            max_items=args.max_items, seed=seed,
                            loudness_lufs=lcfg["loudness_lufs"],
                            true_peak_dbtp=lcfg["true_peak_dbtp"])
        except (ExportError, StructureError, AudioError, ValueError, OSError) as exc:
            _error("listening export", str(exc))
            return 2
        for skip in s["skipped"]:
            _error("listening export", f"{skip['track']}: left out: {skip['reason']}")
        print(f"{s['test']}: {s['items']} pages, {s['stimuli']} stimuli")
        print(f"copy the contents of {args.output}/ into a WAET checkout and open "
              f"test.html?url=tests/vocalmix.xml (see {args.output}/README-vocalmix.md)")
        return 0
    if args.listening_command == "import":
        from vocalmix.listening.export import ExportError, read_key
        from vocalmix.listening.results import import_results, write_ratings

        key_path = None if args.no_key else (args.key or (
            "listening_test/waet/KEY.tsv" if os.path.isfile("listening_test/waet/KEY.tsv")
            else None))
        try:
            key = read_key(key_path) if key_path else None
        except ExportError as exc:
            _error("listening import", str(exc))
            return 2
        if not os.path.isdir(args.directory):
            _error("listening import", f"{args.directory}: not a folder")
            return 2
        rows, summary = import_results(args.directory, key)  # logs each skipped file
        if not rows:
            _error("listening import", f"{args.directory}: no complete WAET result with "
                                       "ratings")
            return 2
        write_ratings(args.output, rows, simulated=summary["simulated"],
                      n_files=summary["complete"])
        if args.summary:
            from vocalmix.files import write_json

            write_json(args.summary, summary)
        print(f"{args.output}: {summary['ratings']} ratings from {summary['complete']} "
              f"complete sessions ({summary['listeners']} listeners, {summary['items']} items)"
              f"; {len(summary['abandoned'])} abandoned, {len(summary['skipped'])} skipped"
              + (f"; key {key_path}" if key_path else "; no key")
              + ("; SIMULATED" if summary["simulated"] else ""))
        return 1 if summary["skipped"] else 0
    if args.listening_command == "simulate":
        from pathlib import Path

        from vocalmix.listening import TEST_XML
        from vocalmix.listening.simulate import simulate_panel

        sim = lcfg["simulation"]
        n = args.listeners or sim["listeners"]
        out = Path(args.output)
        try:
            model = simulate_panel(
                Path(args.waet) / TEST_XML, Path(args.waet) / "KEY.tsv", args.metrics,
                [out / f"complete-{i:02d}.xml" for i in range(1, n + 1)],
                [out / f"abandoned-{j:02d}.xml" for j in range(1, sim["abandoned"] + 1)],
                seed=seed, careless=sim["careless"], listener_sd=sim["listener_sd"],
                item_sd=sim["item_sd"], noise_sd=sim["noise_sd"])
        except (ValueError, OSError) as exc:
            _error("listening simulate", str(exc))
            return 2
        print(f"{out}: {n} simulated sessions ({len(model['careless'])} careless) and "
              f"{sim['abandoned']} abandoned; SIMULATED")
        return 0
    return 2


def _add_stats(sub) -> None:
    p = sub.add_parser(
        "stats",
        help="statistics of listening-test ratings (post-screening, ANOVA, post-hoc, LMM)",
        description=(
            "Analyse a ratings table (vocalmix listening import): BS.1534-3 post-screening, "
            "descriptive statistics per condition, repeated-measures ANOVA (condition x item "
            "within listeners) with Greenhouse-Geisser/Huynh-Feldt corrections and partial eta "
            "squared, Friedman test, paired t and Wilcoxon post-hoc tests with Holm "
            "correction, a linear mixed model with random listener and item intercepts, and "
            "figures. Tables from simulated ratings say SIMULATED in their titles."),
    )
    p.add_argument("ratings", metavar="RATINGS.tsv", help="the ratings table")
    p.add_argument("-o", "--output", default="results/analysis", metavar="DIR",
                   help="folder for the tables and figures (default results/analysis)")
    p.add_argument("--alpha", type=float, default=None,
                   help="significance level (default: config analysis.alpha, 0.05)")
    p.add_argument("--reference-below", type=float, default=None, metavar="GRADE",
                   help="post-screening: a hidden-reference grade below this is a lapse "
                        "(default 90)")
    p.add_argument("--max-fraction", type=float, default=None, metavar="F",
                   help="post-screening: lapses on more than this share of items exclude a "
                        "listener (default 0.15)")
    _COMMANDS["stats"] = _run_stats


def _run_stats(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vocalmix.stats.analysis import OUTPUTS, StatsError, analyse

    a = _config_defaults()["analysis"]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    try:
        s = analyse(args.ratings, {k: out / v for k, v in OUTPUTS.items()},
                    alpha=a["alpha"] if args.alpha is None else args.alpha,
                    reference_below=(a["screening"]["reference_below"]
                                     if args.reference_below is None else args.reference_below),
                    max_fraction=(a["screening"]["max_fraction"]
                                  if args.max_fraction is None else args.max_fraction))
    except (StatsError, ValueError, OSError) as exc:
        _error("stats", str(exc))
        return 2
    tag = "SIMULATED ratings: " if s["simulated"] else ""
    print(f"{tag}{s['listeners_kept']} of {s['listeners']} listeners kept after "
          f"post-screening, {s['items']} items")
    for c, m in s["means"].items():
        print(f"  {c:14s} mean grade {m:6.1f}")
    ce = s.get("condition_effect")
    if ce:
        print(f"  condition: F({ce['df1']:g}, {ce['df2']:g}) = {ce['F']:.2f}, p = {ce['p']:.3g}"
              f" (GG {ce['p_gg']:.3g}, HF {ce['p_hf']:.3g}), partial eta^2 = "
              f"{ce['partial_eta_sq']:.3f}")
    for n in s["notes"]:
        print(f"  note: {n}")
    print(f"tables and figures in {out}/")
    return 0


# ----------------------------------------------------------------------------- separate
def _add_separate(sub) -> None:
    p = sub.add_parser(
        "separate",
        help="split a finished song into vocal and backing (source separation)",
        description=(
            "Separate a mixture (any format libsndfile reads) into DIR/vocal.wav and "
            "DIR/backing.wav (32-bit float WAV at the song's sample rate) and write "
            "DIR/report.json (what ran; loudness of the parts). Backends: 'pretrained' (the "
            "default: Spleeter's pretrained 2stems network in PyTorch, weights installed by "
            "`make setup`; no training), 'builtin' (the "
            "pipeline's mask network, results/separated/model/separator.pt from `snakemake "
            "results/separated/model/separator.pt`, or --method repet_sim with no training; "
            "--method or --model without --backend choose it), "
            "'spleeter' and 'demucs' (their own environments, local weights only; they refuse "
            "to run without real weights). Settings not given here come from --config or the "
            "defaults of config.yaml's 'separation' section."),
    )
    p.add_argument("mix", metavar="MIX", help="the finished song")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--backend", choices=("pretrained", "builtin", "spleeter", "demucs"),
                   default=None, help="separator (default: separation.backend, pretrained)")
    p.add_argument("--config", metavar="YAML",
                   help="a pipeline config whose 'separation' section gives the settings")
    p.add_argument("--method", choices=("network", "repet_sim"), default=None,
                   help="builtin: the trained network (default) or REPET-SIM")
    p.add_argument("--model", metavar="FILE", default=None,
                   help="builtin network weights (default results/separated/model/separator.pt)")
    p.add_argument("--weights", metavar="NPZ", default=None,
                   help="pretrained: converted Spleeter 2stems weights (default: the installed "
                        "<venv>/share/vocalmix/spleeter-2stems.npz)")
    p.add_argument("--model-path", metavar="DIR", default=None,
                   help="spleeter: MODEL_PATH, the folder holding 2stems/ (default "
                        "separation.spleeter.model_path, else $MODEL_PATH)")
    p.add_argument("--repo", metavar="DIR", default=None,
                   help="demucs: local weights folder (as demucs --repo)")
    p.add_argument("--name", metavar="NAME", default=None,
                   help="spleeter model (2stems, 4stems, 5stems) or demucs model name")
    p.add_argument("--python", metavar="PY", default=None,
                   help="spleeter/demucs: interpreter of their environment (default auto)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    _COMMANDS["separate"] = _run_separate


def _run_separate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vocalmix.config import ConfigError, load_config
    from vocalmix.separation.api import DEFAULT_MODEL, SeparationError, separate
    from vocalmix.separation.stage import describe

    try:
        sep = (load_config(args.config) if args.config else _config_defaults())["separation"]
    except (ConfigError, OSError) as exc:
        _error("separate", str(exc))
        return 2
    # --method / --model concern only the builtin network: without --backend they choose it
    backend = args.backend or ("builtin" if (args.method or args.model) else sep["backend"])
    settings = dict(sep[backend])
    if backend == "pretrained":
        if args.weights:
            settings["weights"] = args.weights
    elif backend == "builtin":
        if args.method:
            settings["method"] = args.method
    elif backend == "spleeter":
        settings.update({k: v for k, v in (("model_path", args.model_path), ("model", args.name),
                                           ("python", args.python)) if v})
    else:
        settings.update({k: v for k, v in (("repo", args.repo), ("name", args.name),
                                           ("python", args.python)) if v})
    model = (args.model or DEFAULT_MODEL) if backend == "builtin" else None
    try:
        mixture, sr = read_audio(args.mix)
        vocal, backing, info = separate(mixture, sr, backend=backend, settings=settings,
                                        model=model, threads=args.threads)
    except (AudioError, SeparationError) as exc:
        _error("separate", str(exc))
        return 2
    out = Path(args.output)
    write_audio(out / "vocal.wav", vocal, sr)
    write_audio(out / "backing.wav", backing, sr)
    facts = describe(mixture, vocal, backing, sr)
    write_json(out / "report.json", {"mixture": args.mix, "run": info, "sample_rate": sr,
                                        "duration_s": mixture.shape[1] / sr, **facts})
    print(f"{args.mix}: separated by {backend}"
          + (f" ({settings.get('method', 'network')})" if backend == "builtin" else ""))
    print(f"  vocal    {out / 'vocal.wav'}  {_fmt(facts['vocal_lufs'], 'LUFS')}")
    print(f"  backing  {out / 'backing.wav'}  {_fmt(facts['backing_lufs'], 'LUFS')}")
    return 0


# ----------------------------------------------------------------------------- parser
_REGISTRARS = [_add_loudness, _add_reverb_fit, _add_mix, _add_genre, _add_listening, _add_stats,
               _add_separate]


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
