"""Benchmark of issue 20's speed targets: each command as a whole process, before and after.

Figures (medians of ``--reps`` runs, 5 by default; the two versions, and ffmpeg, alternate
within each repetition so that both see the same machine load):

* ``mix_rule_based_s``: ``vocalmix mix`` (rule_based, no genre model) on a 3-minute song
  (44.1 kHz: mono raw vocal take, stereo backing) from the demo generator; target <= 3 s.
* ``mix_data_driven_s``: the same with ``--system data_driven --model DIR`` where a trained
  model directory is given (``--model``, default ``results/models``); target <= 5 s.
* ``loudness_ratio_to_ffmpeg``: ``vocalmix loudness`` on a 20-minute stereo 44.1 kHz PCM-16
  file over ``ffmpeg -af ebur128`` on the same file (each version's median over ffmpeg's
  median in the same run); target <= 0.5. ffmpeg is a benchmark dependency only
  (Debian: ``apt-get install ffmpeg``).
* ``loudness_startup_s``: ``vocalmix loudness`` on a 1-second file; target < 0.3 s.
* ``reverb_fit_per_room_s``: ``vocalmix reverb-fit --ir`` per room over the measured rooms
  in ``../shared/data/real/irs`` (median over rooms of each room's median); target <= 1 s.

The "before" version is another checkout (``--before DIR``: its ``workflow/scripts`` is put
on ``PYTHONPATH``) or a git revision (``--before REV``: exported with ``git archive`` into a
temporary folder); "after" is this checkout. Writes ``benchmarks/results/speed.csv`` (figure,
unit, before, after, target, met, reps, cores, load averages at start and end, notes; the
rows of figures left out by ``--only`` stay as they were) and prints it. The pipeline figures (``make run``, ``make test``) are added with ``--pipeline``
(one run each of this checkout, minutes long) or left out.

    .venv/bin/python benchmarks/speed.py --before REV [--reps 5] [--only mix,loudness]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from vocalmix.tables import write_table
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results"
IRS = ROOT.parent / "shared" / "data" / "real" / "irs"
INPUTS = Path(tempfile.gettempdir()) / "vocalmix-speed-inputs"
SR = 44100
FIGURES = ("mix", "loudness", "startup", "reverb")


def load() -> str:
    """The 1-, 5- and 15-minute load averages, as a string."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_inputs(folder: Path) -> dict[str, Path]:
    """The benchmark's audio (generated once, kept in ``folder``; never committed)."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / f"{k}.wav" for k in ("vocal", "backing", "long", "short")}
    if not (paths["vocal"].exists() and paths["backing"].exists()):
        from vocalmix.corpus.demo import generate_song

        audio, _ = generate_song("speed", "pop", duration_s=180.0, sample_rate=SR, seed=1)
        sf.write(paths["vocal"], audio["raw_vocal"].T, SR, subtype="PCM_24")
        sf.write(paths["backing"], audio["backing"].T, SR, subtype="PCM_24")
    if not paths["long"].exists():
        rng = np.random.default_rng(0)
        with sf.SoundFile(paths["long"], "w", SR, 2, subtype="PCM_16") as fh:
            for _ in range(20 * 6):  # 20 minutes of 10-s noise-and-tone sections
                t = np.arange(10 * SR) / SR
                x = 0.05 * rng.standard_normal((t.size, 2))
                x += 0.1 * np.sin(2 * np.pi * rng.uniform(100, 1000) * t)[:, None]
                fh.write(x * rng.uniform(0.1, 1.0))
    if not paths["short"].exists():
        t = np.arange(SR) / SR
        sf.write(paths["short"], 0.1 * np.sin(2 * np.pi * 1000 * t), SR, subtype="PCM_16")
    return paths


def before_tree(spec: str, tmp: Path) -> Path:
    """The ``workflow/scripts`` folder of the "before" version."""
    if Path(spec).is_dir():
        return Path(spec).resolve() / "workflow" / "scripts"
    dest = tmp / "before"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", spec, "workflow/scripts"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "workflow" / "scripts"


def timed(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> float:
    """Wall seconds of one run of ``cmd`` (which must succeed)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def vocalmix(tree: Path, *args: str) -> tuple[list[str], dict]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return [sys.executable, "-m", "vocalmix", *args], env


def compare(name: str, commands: dict, reps: int, cwd: Path) -> dict[str, float]:
    """Median wall time of each command, the commands alternating within a repetition."""
    times: dict[str, list[float]] = {k: [] for k in commands}
    for rep in range(reps):
        for key, (cmd, env) in commands.items():
            times[key].append(timed(cmd, env, cwd))
        print(f"  {name} rep {rep + 1}: "
              + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True,
                    help="the version to compare with: a checkout folder or a git revision")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default=",".join(FIGURES),
                    help=f"comma-separated subset of {', '.join(FIGURES)}")
    ap.add_argument("--model", default=str(ROOT / "results" / "models"),
                    help="trained model directory for the data_driven figure")
    ap.add_argument("--rooms", type=int, default=8, help="measured rooms to fit (at most 12)")
    ap.add_argument("--pipeline", action="store_true",
                    help="also time `make run` and `make test` once (this checkout only)")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    OUT.mkdir(parents=True, exist_ok=True)
    inputs = make_inputs(INPUTS)
    cores = os.cpu_count()
    load_start = load()
    rows: list[dict] = []

    def row(figure, unit, before, after, target, note=""):
        met = "" if after is None else ("yes" if after <= target else "no")
        rows.append({"figure": figure, "unit": unit,
                     "before": "" if before is None else round(before, 3),
                     "after": "" if after is None else round(after, 3), "target": target,
                     "met": met, "reps": args.reps, "statistic": "median", "cores": cores,
                     "load_start": load_start, "load_end": load(), "notes": note})
        print(f"{figure}: before {before} after {after} (target {target} {unit})", flush=True)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trees = {"before": before_tree(args.before, tmp), "after": ROOT / "workflow" / "scripts"}
        if "mix" in only:
            for system, target in (("rule_based", 3.0), ("data_driven", 5.0)):
                extra = ["--genre-model", "none"] if system == "rule_based" else \
                    ["--model", args.model]
                if system == "data_driven" and not Path(args.model, "eq", "model.pt").exists():
                    print(f"no trained models in {args.model}: data_driven skipped")
                    continue
                cmds = {k: vocalmix(t, "mix", "--vocal", str(inputs["vocal"]), "--backing",
                                    str(inputs["backing"]), "-o", str(tmp / f"mix_{k}.wav"),
                                    "--system", system, "--force", *extra)
                        for k, t in trees.items()}
                med = compare(f"mix {system}", cmds, args.reps, tmp)
                row(f"mix_{system}_s", "s", med["before"], med["after"], target,
                    "3-minute song, 44.1 kHz, mono vocal + stereo backing, whole process")
        if "loudness" in only:
            ffmpeg = shutil.which("ffmpeg")
            if ffmpeg is None:
                print("ffmpeg not found (Debian: apt-get install ffmpeg): loudness skipped")
            else:
                cmds = {k: vocalmix(t, "loudness", "--json", str(inputs["long"]))
                        for k, t in trees.items()}
                cmds["ffmpeg"] = ([ffmpeg, "-hide_banner", "-nostats", "-i", str(inputs["long"]),
                                   "-af", "ebur128=peak=sample", "-f", "null", "-"], None)
                med = compare("loudness 20 min", cmds, args.reps, tmp)
                row("loudness_ratio_to_ffmpeg", "ratio", med["before"] / med["ffmpeg"],
                    med["after"] / med["ffmpeg"], 0.5,
                    f"20-minute stereo PCM-16 file; ffmpeg ebur128 median {med['ffmpeg']:.2f} s, "
                    f"vocalmix before {med['before']:.2f} s, after {med['after']:.2f} s")
        if "startup" in only:
            cmds = {k: vocalmix(t, "loudness", str(inputs["short"])) for k, t in trees.items()}
            med = compare("loudness start-up", cmds, args.reps, tmp)
            row("loudness_startup_s", "s", med["before"], med["after"], 0.3,
                "1-second file: interpreter, imports, one block")
        if "reverb" in only:
            rooms = sorted(IRS.rglob("*.wav"))[: args.rooms]
            if not rooms:
                print(f"no measured rooms under {IRS}: reverb-fit skipped")
            else:
                per_room: dict[str, list[float]] = {"before": [], "after": []}
                for ir in rooms:
                    cmds = {k: vocalmix(t, "reverb-fit", "--ir", str(ir), "--json")
                            for k, t in trees.items()}
                    med = compare(f"reverb-fit {ir.stem}", cmds, args.reps, tmp)
                    for k in per_room:
                        per_room[k].append(med[k])
                row("reverb_fit_per_room_s", "s", statistics.median(per_room["before"]),
                    statistics.median(per_room["after"]), 1.0,
                    f"median over {len(rooms)} measured rooms of each room's median")
        if args.pipeline:
            for target_name, target in (("run", 300.0), ("test", 360.0)):
                wall = timed(["make", target_name], cwd=ROOT)
                row(f"make_{target_name}_s", "s", None, wall, target,
                    "one run of this checkout after setup")
    path = OUT / "speed.csv"
    # the figures not measured this time keep their rows (and their load columns)
    if path.exists():
        with open(path, newline="") as fh:
            old = list(csv.DictReader(fh))
        new = {r["figure"]: r for r in rows}
        rows = [new.pop(r["figure"], r) for r in old] + list(new.values())
    write_table(path, rows, list(rows[0]) if rows else ["figure"], delimiter=",")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
