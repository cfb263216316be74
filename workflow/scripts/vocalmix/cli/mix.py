"""``vocalmix mix``: mix a singing vocal with a backing track through one of the mixing systems."""

from __future__ import annotations

import argparse

from vocalmix.cli._common import Output, add_force, check_outputs, error, is_json_with, own_if

from vocalmix.layout import GENRE_MODEL, GENRE_STATS, MODELS_DIR

__all__ = ["add_parser", "run"]


def _paragraphs(*paragraphs: str) -> str:
    """Paragraphs wrapped for the help's epilog (kept apart by blank lines)."""
    import textwrap

    return "\n\n".join(textwrap.fill(p, 79) for p in paragraphs)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "mix",
        help="mix a singing vocal with a backing track",
        description=(
            "Mix a raw singing vocal with a backing track and write the mix (WAV, 24-bit, "
            "true peak <= -1 dBTP) and the recipe used (JSON). Any format soundfile reads, "
            "any sample rates (the vocal is resampled to the backing's) and channel counts "
            "(a mono vocal is a centred source); a vocal of another length is padded or "
            "trimmed to the backing, with a warning."),
        epilog=_paragraphs(
            "systems: 'rule_based' analyses the tracks and applies published mixing rules "
            "(level from the genre's vocal-to-backing ratio, masking-reduction EQ, compression "
            "to the genre's loudness range, reverb from tempo and crest factor); "
            "'data_driven' uses the trained models (--model); 'preset' is a karaoke app's "
            "fixed template (the listening test's stand-in for a commercial tool).",
            "--reference SONG: a finished song to sound like. It is split into vocal and "
            "backing by the pretrained separator (Spleeter 2stems, installed by make setup); "
            "its vocal-to-backing loudness ratio, vocal loudness range, the vocal's spectrum "
            "relative to its backing and its reverb (blind T60 and DRR) become the targets "
            "in place of the genre's (rule_based; data_driven takes its level and range), "
            "corrected for the separator's bias by separating the mix being made. An "
            "instrumental reference (or one whose vocal cannot be separated) is reported "
            "and the genre targets are used. Everything measured is in the recipe's "
            "analysis.reference.",
            "--stems DIR writes DIR/vocal.wav and DIR/backing.wav: the processed stems as "
            "they sit in the mix before the bus limiter (24-bit, the mix's length and "
            "rate; 32-bit float for a stem that peaks above full scale, with a warning), "
            "for a DAW or to measure the balance."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--vocal", required=True, metavar="V", help="the raw vocal take")
    p.add_argument("--backing", required=True, metavar="B", help="the backing track (beat)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the mix to write (WAV)")
    p.add_argument("--system", choices=("rule_based", "data_driven", "preset"),
                   default="rule_based", help="mixing system (default: rule_based)")
    p.add_argument("--model", metavar="DIR",
                   help=f"trained model directory for --system data_driven ({MODELS_DIR})")
    p.add_argument("--genre", metavar="G",
                   help="genre of the song (a row of the genre statistics); default: predicted "
                        "from the backing when a genre classifier is available and its "
                        "probability reaches --genre-threshold, else the overall average")
    p.add_argument("--genre-model", metavar="PATH",
                   help="genre classifier (model.json or its directory) for the prediction; "
                        f"default: {GENRE_MODEL} where it exists; 'none' to skip")
    p.add_argument("--genre-threshold", metavar="P", type=float, default=None,
                   help="least probability at which a predicted genre is used (default 0.5, "
                        "the pipeline's genre.confidence_threshold)")
    p.add_argument("--genre-stats", metavar="TSV",
                   help=f"genre statistics table ({GENRE_STATS}); default: "
                        "the packaged priors")
    p.add_argument("--reference", metavar="SONG",
                   help="a finished song (any format soundfile reads, any length) whose "
                        "vocal balance, tone, loudness range and reverb the mix matches")
    p.add_argument("--cleanup", action=argparse.BooleanOptionalAction, default=True,
                   help="clean the take up first: stationary noise reduction (hiss, hum, room "
                        "noise; strongest in rests) and a de-esser (split-band above 5 kHz, on "
                        "sibilant frames only); recorded in the recipe (default: on)")
    p.add_argument("--stems", metavar="DIR",
                   help="also write the processed stems DIR/vocal.wav and DIR/backing.wav "
                        "(before the bus limiter, 24-bit)")
    p.add_argument("--threads", metavar="N", type=int, default=None,
                   help="threads for the separation of --reference (default: up to 4)")
    p.add_argument("--pitch-correct", action="store_true",
                   help="snap the vocal's notes to the key of the backing (off by default)")
    p.add_argument("--recipe-out", metavar="R.json",
                   help="where to write the recipe (default: OUT with .recipe.json)")
    p.add_argument("--recipe-in", metavar="R.json",
                   help="render this recipe instead of choosing one (edit a value, re-render)")
    add_force(p)
    p.set_defaults(run=run)


def one_blas_thread():
    """A context in which numpy's BLAS (OpenBLAS) runs on one thread, unless the user set
    ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``.

    A mix's matrix products are small (band powers, mel filters): on the 2-core reference
    machine a second OpenBLAS thread, spinning between them and competing with the mixer's
    own worker thread, cost about 0.5 s of CPU time of a 3-minute song's mix and saved no
    wall time. One thread is also how the pipeline's stages run
    (:func:`vocalmix.stages.runner.one_blas_thread`), so a mix made here has the pipeline's
    numbers: a product summed on two threads can round differently (the data-driven
    system's log-mel of the backing moved by 1.5e-5 dB, its recipe floats by 1.2e-7).
    """
    import contextlib
    import os

    from threadpoolctl import threadpool_limits

    if any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                       "MKL_NUM_THREADS")):
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from vocalmix.mixing.api import MixError, mix_files, recipe_path

    # before any work: never over an input; an existing mix is replaced only when it is this
    # command's own (its vocalmix recipe is beside it), a recipe only when it is a recipe
    rpath = recipe_path(args.output, args.recipe_out)
    is_recipe = is_json_with("system", "vocal", "backing", "bus")
    genre_model = args.genre_model if args.genre_model and args.genre_model != "none" else None
    outputs = [Output(args.output, own_if(Path(rpath), is_recipe)), Output(rpath, is_recipe)]
    if args.stems:
        outputs += [Output(args.stems, folder=True)] + [
            Output(Path(args.stems) / f"{name}.wav", own_if(Path(rpath), is_recipe))
            for name in ("vocal", "backing")]
    if args.reference and args.recipe_in:
        error("mix", "--reference chooses a recipe and --recipe-in gives one: use one of them")
        return 2
    check_outputs([args.vocal, args.backing, args.recipe_in, args.genre_stats, genre_model,
                   args.reference], outputs, force=args.force)
    threads = args.threads if args.threads else min(4, os.cpu_count() or 1)
    try:
        with one_blas_thread():
            summary = mix_files(
                vocal=args.vocal, backing=args.backing, output=args.output, system=args.system,
                model_dir=args.model, genre=args.genre, genre_stats=args.genre_stats,
                pitch_correct=args.pitch_correct, recipe_out=args.recipe_out,
                recipe_in=args.recipe_in, genre_model=args.genre_model,
                genre_threshold=args.genre_threshold, reference=args.reference,
                stems=args.stems, threads=threads, cleanup=args.cleanup,
                warn=lambda msg: error("mix", f"warning: {msg}"))
    except MixError as exc:
        error("mix", str(exc))
        return 2
    for line in summary:
        print(line)
    return 0
