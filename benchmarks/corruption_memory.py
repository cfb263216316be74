"""Benchmark: peak memory and time of rules ``corrupt`` and ``corrupt_extra`` against song
length (issue 19: at most 2 GiB on a 10-minute song and within 20 % of the 3-minute song's).

Each rule's stage function runs on each song in a fresh Python process, as a Snakemake job
runs it (one thread: ``OMP_NUM_THREADS`` etc. 1), with the repository's ``corruption``
settings (``config.yaml``: its versions; the audio of version 0 from ``corrupt``, of the
others from ``corrupt_extra``, as ``workflow/rules/models.smk`` splits them); the process
reports its peak resident memory (``VmHWM``, as the stage runner's ``peak RSS``) before and
after the call, and the call's wall and CPU time.

The songs are the stereo 44.1 kHz vocals ``<data>/test/long_SSSSs/vocals.wav`` that
``benchmarks/long_songs.py`` generates (read only); a missing one is generated the same way
(the demo generator) into a temporary folder. ``--code`` runs another checkout's package
(e.g. ``git worktree add /tmp/old <commit>`` and ``--code /tmp/old/workflow/scripts``) to
measure before and after on the same songs.

Writes ``benchmarks/results/corruption_memory.csv`` (one row per rule, song and label).

    .venv/bin/python benchmarks/corruption_memory.py [--minutes 3 10] [--label after]
        [--code DIR] [--data /tmp/vocalmix-long/data] [--out ...] [--append]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
SR = 44100
COLUMNS = ["label", "rule", "minutes", "peak_rss_mib", "baseline_rss_mib", "wall_s", "cpu_s",
           "versions", "code"]

CHILD = r"""
import json, sys, time
from pathlib import Path

def hwm_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

rule, vocal, out, versions = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
import vocalmix
from vocalmix.stages.corrupt import corrupt, corrupt_extra
base = hwm_mib()
t0, c0 = time.perf_counter(), time.process_time()
derev = out / "dereverberated.flac"
if rule == "corrupt":
    corrupt({"vocal": str(vocal)},
            {"audio": [str(out / "v0.wav")],
             "params": [str(out / f"v{k}.json") for k in range(versions)],
             "dereverberated": str(derev)},
            {"track": "bench", "seed": 1, "corruption": {"versions": versions, "dereverb": True},
             "audio_versions": [0]})
else:
    extra = list(range(1, versions))
    corrupt_extra({"dereverberated": str(derev)},
                  {"audio": [str(out / f"v{k}.wav") for k in extra]},
                  {"track": "bench", "seed": 1, "versions": extra})
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"baseline_rss_mib": base, "peak_rss_mib": hwm_mib(), "wall_s": wall,
                  "cpu_s": cpu, "package": str(Path(vocalmix.__file__).parent)}))
"""


def song(data: Path, scratch: Path, minutes: float, seed: int) -> Path:
    """The vocal of the ``minutes``-long song: long_songs.py's, or generated like it."""
    name = f"long_{minutes * 60:04.0f}s"
    path = data / "test" / name / "vocals.wav"
    if path.exists():
        return path
    from vocalmix.audio import write_audio
    from vocalmix.corpus.demo import generate_song

    path = scratch / f"{name}.wav"
    print(f"generating {name} ({minutes:g} min)", flush=True)
    audio, _ = generate_song(name, "pop", duration_s=minutes * 60.0, sample_rate=SR, seed=seed)
    write_audio(path, audio["vocal"], SR, subtype="PCM_16", clip="clip")
    return path


def measure(rule: str, vocal: Path, out: Path, versions: int, code: Path | None) -> dict:
    """One rule on one song in a fresh process; its figures."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", CHILD, rule, str(vocal), str(out),
                           str(versions)], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"{rule} on {vocal} failed:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    commit = subprocess.run(["git", "-C", r.pop("package"), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return {**r, "code": commit}


def main(argv: list[str] | None = None) -> None:
    import yaml

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[3.0, 10.0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/vocalmix-long/data"))
    ap.add_argument("--code", type=Path, default=None,
                    help="the workflow/scripts folder of another checkout to measure")
    ap.add_argument("--label", default="after")
    ap.add_argument("--rules", nargs="+", default=["corrupt", "corrupt_extra"])
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--out", type=Path, default=OUT / "corruption_memory.csv")
    ap.add_argument("--append", action="store_true", help="keep the rows already in --out")
    args = ap.parse_args(argv)
    versions = int(yaml.safe_load((REPO / "config.yaml").read_text())["corruption"]["versions"])
    rows = []
    if args.append and args.out.exists():
        with open(args.out, newline="") as fh:
            rows = list(csv.DictReader(fh))
    from vocalmix.tables import fixed, write_table

    with tempfile.TemporaryDirectory(prefix="corruption_memory.") as tmp:
        for minutes in args.minutes:
            vocal = song(args.data, Path(tmp), minutes, args.seed)
            out = Path(tmp) / f"out_{minutes:g}"
            out.mkdir()
            for rule in args.rules:  # corrupt first: corrupt_extra reads its FLAC
                r = measure(rule, vocal, out, versions, args.code)
                rows.append({"label": args.label, "rule": rule, "minutes": minutes,
                             "versions": versions, **r})
                print(f"{args.label:8s} {rule:14s} {minutes:5.1f} min: peak RSS "
                      f"{r['peak_rss_mib']:7.0f} MiB (baseline {r['baseline_rss_mib']:.0f}), "
                      f"{r['wall_s']:6.1f} s wall, {r['cpu_s']:6.1f} s CPU (code {r['code']})",
                      flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_table(args.out, rows, COLUMNS, cell=fixed(2, nonfinite=None), delimiter=",")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
