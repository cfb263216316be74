"""Benchmark: peak memory and time of rule ``extract_features`` against song length (issue 19).

Runs the stage function (:func:`vocalmix.stages.features.extract_features`, what the
Snakemake job runs) on one song per length, each in a fresh Python process, with the
repository's ``config.yaml`` (features, seed, sample rate) and the inputs the pipeline gives
the rule for a MUSDB18-HQ song: the stems' ``vocals.wav`` and ``mixture.wav`` (16-bit WAV)
and the ingested ``backing.flac``. The job's peak RSS is the process's ``VmHWM`` (as the
stage runner logs it); the runner does not change glibc's allocator settings, nor does this.

Songs: by default generated (the demo generator, as ``benchmarks/long_songs.py`` makes
them) for each of ``--minutes`` under ``--workdir``; or ``--audio DIR ...``: folders that
each hold ``vocals.wav``, ``backing.flac`` and ``mixture.wav`` (e.g. copies of a
``long_songs.py`` run's inputs). Writes ``benchmarks/results/features_memory.csv`` (song
minutes, peak RSS MiB, wall and CPU seconds) and prints the longest-over-shortest RSS ratio
(targets: <= 1.2 and <= 2048 MiB on the 10-minute song). Runs by hand, one process at a time.

(A child's ``ru_maxrss`` starts at its parent's RSS when it was forked: Linux keeps the
high-water mark of the forked copy across ``exec``; ``VmHWM`` is the process's own. The
songs are generated in a child process of their own all the same.)

    .venv/bin/python benchmarks/features_memory.py [--minutes 3 10] [--workdir /tmp/fm]
    .venv/bin/python benchmarks/features_memory.py --audio /tmp/long/0180 /tmp/long/0600
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
SR = 44100
COLUMNS = ("code", "song_min", "max_rss_mib", "wall_s", "cpu_s", "vocal_to_backing_lu")

# the job, in a fresh process: the stage function on the rule's inputs, then its peak RSS
_CHILD = r"""
import json, resource, sys, time
w0, c0 = time.perf_counter(), time.process_time()
from vocalmix.config import load_config
from vocalmix.stages.features import extract_features
args = json.loads(sys.argv[1])
cfg = load_config(args["config"])
row = {"track_id": args["track_id"], "split": "test", "genre": "pop", "source": "stems",
       "dataset": "musdb18hq"}
extract_features(args["inputs"], args["outputs"],
                 {"track": row, "sample_rate": cfg["sample_rate"], "features": cfg["features"],
                  "seed": cfg["seed"]})
hwm = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(json.dumps({"max_rss_mib": (hwm[0] if hwm else
                                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024,
                  "wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}))
"""


def generate(folder: Path, minutes: float, seed: int) -> Path:
    """A generated song's stems as the pipeline's inputs (vocals/mixture WAV, backing FLAC),
    made in a child process (see the module's docstring)."""
    if not all((folder / f).exists() for f in ("vocals.wav", "backing.flac", "mixture.wav")):
        subprocess.run([sys.executable, __file__, "--generate", str(folder), str(minutes),
                        "--seed", str(seed)], check=True)
    return folder


def _write_song(folder: Path, minutes: float, seed: int) -> None:
    from vocalmix.audio import write_audio
    from vocalmix.corpus.demo import generate_song

    folder.mkdir(parents=True, exist_ok=True)
    audio, _ = generate_song(f"long_{int(minutes * 60):04d}s", "pop",
                             duration_s=minutes * 60.0, sample_rate=SR, seed=seed)
    write_audio(folder / "vocals.wav", audio["vocal"], SR, subtype="PCM_16", clip="clip")
    write_audio(folder / "mixture.wav", audio["mixture"], SR, subtype="PCM_16", clip="clip")
    write_audio(folder / "backing.flac", audio["backing"], SR, subtype="PCM_24", clip="clip")


def measure(folder: Path, work: Path) -> dict:
    """Peak RSS and time of the stage on the song in ``folder``, in a fresh process."""
    import soundfile as sf

    minutes = sf.info(str(folder / "vocals.wav")).duration / 60.0
    tag = f"{minutes:05.2f}min"
    work.mkdir(parents=True, exist_ok=True)
    args = {"config": str(REPO / "config.yaml"), "track_id": f"bench_{tag}",
            "inputs": {"vocal": str(folder / "vocals.wav"),
                       "backing": str(folder / "backing.flac"),
                       "mixture": str(folder / "mixture.wav")},
            "outputs": {"features": str(work / f"{tag}.json"),
                        "windows": str(work / f"{tag}.windows.tsv")}}
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)], check=True,
                         capture_output=True, text=True, cwd=REPO)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    feats = json.loads(Path(args["outputs"]["features"]).read_text())
    return {"song_min": round(minutes, 2), "max_rss_mib": round(res["max_rss_mib"], 1),
            "wall_s": round(res["wall_s"], 2), "cpu_s": round(res["cpu_s"], 2),
            "vocal_to_backing_lu": round(feats["vocal_to_backing_lu"], 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[3.0, 10.0])
    ap.add_argument("--audio", type=Path, nargs="+", help="folders of existing songs")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/features_memory"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--output", type=Path, default=OUT / "features_memory.csv")
    ap.add_argument("--label", default="current",
                    help="the code measured, for the CSV's code column (e.g. a commit)")
    ap.add_argument("--append", action="store_true", help="add rows to an existing CSV")
    ap.add_argument("--generate", nargs=2, metavar=("FOLDER", "MINUTES"),
                    help=argparse.SUPPRESS)  # the child process of generate()
    args = ap.parse_args()
    if args.generate:
        _write_song(Path(args.generate[0]), float(args.generate[1]), args.seed)
        return
    folders = args.audio or [generate(args.workdir / f"song_{m:g}min", m, args.seed)
                             for m in args.minutes]
    rows = []
    for folder in folders:
        rows.append({"code": args.label, **measure(folder, args.workdir / "out")})
        print(rows[-1], flush=True)
    rows.sort(key=lambda r: r["song_min"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    append = args.append and args.output.exists()
    with open(args.output, "a" if append else "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        if not append:
            w.writeheader()
        w.writerows(rows)
    ratio = rows[-1]["max_rss_mib"] / rows[0]["max_rss_mib"]
    print(f"wrote {args.output}; peak RSS {rows[0]['max_rss_mib']} MiB "
          f"({rows[0]['song_min']} min) -> {rows[-1]['max_rss_mib']} MiB "
          f"({rows[-1]['song_min']} min): x{ratio:.2f} (targets: <= 1.2, <= 2048 MiB)")


if __name__ == "__main__":
    main()
