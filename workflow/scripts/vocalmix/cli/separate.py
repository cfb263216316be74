"""``vocalmix separate``: split a finished song into vocal and backing."""

from __future__ import annotations

import argparse

from vocalmix.audio import AudioError, audio_info
from vocalmix.cli._common import (Output, add_force, check_outputs, error, fmt, is_json_with,
                                  own_if)
from vocalmix.files import atomic_paths, write_json
from vocalmix.layout import SEPARATOR_MODEL

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "separate",
        help="split a finished song into vocal and backing (source separation)",
        description=(
            "Separate a mixture (any format libsndfile reads) into DIR/vocal.wav and "
            "DIR/backing.wav (32-bit float WAV at the song's sample rate) and write "
            "DIR/report.json (what ran; loudness of the parts). Backends: 'pretrained' (the "
            "default: Spleeter's pretrained 2stems network in PyTorch, weights installed by "
            "`make setup`; no training), 'builtin' (the "
            f"pipeline's mask network, {SEPARATOR_MODEL} from `snakemake "
            f"{SEPARATOR_MODEL}`, or --method repet_sim with no training; "
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
                   help=f"builtin network weights (default {SEPARATOR_MODEL})")
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
    add_force(p)
    p.set_defaults(run=run)


#: Shortest mixture separated (s): the report's loudness needs one 400 ms block, and
#: a separation of less is no use.
MIN_DURATION_S = 1.0


def _check_mixture(path: str) -> int:
    """The song's sample rate, after refusing what cannot be separated (AudioError naming
    ``path``): an unreadable file, more than two channels, less than
    :data:`MIN_DURATION_S`. Reads the header only."""
    head = audio_info(path)
    if head["channels"] > 2:
        raise AudioError(path, f"{head['channels']} channels; a mono or stereo song expected")
    seconds = head["frames"] / head["sample_rate"]
    if seconds < MIN_DURATION_S:
        raise AudioError(path, f"{seconds:.3f} s long; at least {MIN_DURATION_S:g} s needed")
    return int(head["sample_rate"])


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from vocalmix.config import ConfigError, load_config
    from vocalmix.separation.api import (DEFAULT_MODEL, SeparationError, check_backend,
                                         separate_file)
    from vocalmix.separation.settings import SeparationSettings

    try:
        sep = SeparationSettings.from_mapping(
            load_config(args.config)["separation"] if args.config else None)
    except (ConfigError, OSError) as exc:
        error("separate", str(exc))
        return 2
    # --method / --model concern only the builtin network: without --backend they choose it
    backend = args.backend or ("builtin" if (args.method or args.model) else sep.backend)
    given = {"pretrained": (("weights", args.weights),),
             "builtin": (("method", args.method),),
             "spleeter": (("model_path", args.model_path), ("model", args.name),
                          ("python", args.python)),
             "demucs": (("repo", args.repo), ("name", args.name), ("python", args.python))}
    options = {k: v for k, v in given[backend] if v}
    settings = replace(sep, backend=backend,
                       **{backend: replace(getattr(sep, backend), **options)})
    model = (args.model or DEFAULT_MODEL) if backend == "builtin" else None
    # before any work: the three files are written together, never over an input; existing
    # ones are replaced when the folder's report.json says vocalmix separate wrote them
    out = Path(args.output)
    names = ("vocal.wav", "backing.wav", "report.json")
    own = own_if(out / "report.json", is_json_with("mixture", "run", "sample_rate"))
    check_outputs([args.mix, args.model, args.weights, args.config],
                  [Output(out, folder=True)] + [Output(out / n, own) for n in names],
                  force=args.force)
    # the song at its own rate, file to files: the pretrained backend on a 44.1 kHz song
    # reads, separates and writes it in blocks (memory flat in the song's length); the
    # three files are renamed into place together, only when everything succeeded
    created = not out.exists()
    try:
        sr = _check_mixture(args.mix)
        check_backend(settings)  # missing weights or environment: before any file is made
        with atomic_paths([out / n for n in names]) as (tmp_vocal, tmp_backing, tmp_report):
            result = separate_file(args.mix, tmp_vocal, tmp_backing, sr, settings,
                                   model=model, threads=args.threads)
            facts = result["facts"]
            write_json(tmp_report, {"mixture": args.mix, "run": result["run"],
                                    "sample_rate": sr, "duration_s": result["frames"] / sr,
                                    **facts})
    except (AudioError, SeparationError) as exc:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # the folder this run made, left empty by the failure
        error("separate", str(exc))
        return 2
    if facts["mixture_lufs"] is None:
        error("separate", f"warning: {args.mix}: the audio is silent (no 400 ms block above "
                          "-70 LUFS); the parts will be silent too")
    print(f"{args.mix}: separated by {backend}"
          + (f" ({settings.builtin.method})" if backend == "builtin" else ""))
    print(f"  vocal    {out / 'vocal.wav'}  {fmt(facts['vocal_lufs'], 'LUFS')}")
    print(f"  backing  {out / 'backing.wav'}  {fmt(facts['backing_lufs'], 'LUFS')}")
    return 0
