"""Benchmark: peak memory and time of rule ``separate`` against song length.

The stage separates a finished song with the pretrained Spleeter 2stems network. Before
streaming it read the whole song, and the separator held the padded song, a song-long
overlap-add buffer and the two stems, and the loudness of all three was measured on whole
arrays: about 1 GB on a 10-minute song, growing with its length. Now the song is read,
separated, written and measured block by block (:func:`vocalmix.separation.api.separate_file`).

A stereo 44.1 kHz song of the longest length asked for is made by the demo generator (its
first minutes give the shorter ones) and written as a float WAV in a temporary folder; the
stage function :func:`vocalmix.stages.separate.separate` then separates each length in a
fresh Python process, which reports its peak resident memory (``VmHWM``: the kernel's
high-water mark of that process alone) and the call's wall and CPU time. Writes
``benchmarks/results/separation_memory.csv`` (columns label, minutes, peak_rss_mib, wall_s,
cpu_s); rows of other labels already there are kept, those of ``--label`` replaced.

The code measured is whatever ``vocalmix`` the child process imports: the working tree, or
an older checkout put first on ``PYTHONPATH``. The figures before and after a change:

    git worktree add -f /tmp/sepbefore HEAD     # the commit before the change
    PYTHONPATH=/tmp/sepbefore/workflow/scripts .venv/bin/python \\
        benchmarks/separation_memory.py --label before
    .venv/bin/python benchmarks/separation_memory.py --label after
    git worktree remove --force /tmp/sepbefore

    .venv/bin/python benchmarks/separation_memory.py [--label after] [--minutes 3 10]
        [--threads 1] [--mmap-threshold BYTES] [--out benchmarks/results/separation_memory.csv]

``--mmap-threshold 1048576 --label after-mmap1m`` separates the memory the stage uses from
what glibc's allocator keeps: with its default, growing threshold the heap holds on to
freed segment-sized blocks, and the streamed stage's peak still creeps by a few MiB per
minute of song although nothing it keeps grows (the tests check that); with a fixed
threshold the resident memory stays the same from the first segment to the last.

It runs by hand, not in the test suite: about a minute to generate a 10-minute song and
about 25 s of CPU per 10 minutes separated (one thread).
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

from vocalmix.tables import fixed, write_table

OUT = Path(__file__).resolve().parent / "results"
SR = 44100
COLUMNS = ["label", "minutes", "peak_rss_mib", "wall_s", "cpu_s"]

CHILD = r"""
import json, sys, time

def hwm_mib():
    # VmHWM: this process's peak resident set (ru_maxrss would include the parent's at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

import vocalmix
from vocalmix.stages.separate import separate

mix, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
outputs = {k: f"{out}/{k}.{ext}" for k, ext in
           (("vocal", "wav"), ("backing", "wav"), ("report", "json"))}
params = {"track": "long_song", "sample_rate": 44100,
          "separation": {"backend": "pretrained", "pretrained": {"weights": ""}}}
t0, c0 = time.perf_counter(), time.process_time()
separate({"mix": mix}, outputs, params, threads=threads)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
report = json.load(open(outputs["report"]))
print(json.dumps({"peak_rss_mib": hwm_mib(), "wall_s": wall, "cpu_s": cpu,
                  "status": report["status"], "streamed": report["run"].get("streamed"),
                  "duration_s": report["duration_s"], "code": vocalmix.__file__}))
"""


def measure(mix: Path, out: Path, threads: int, mmap_threshold: int | None = None) -> dict:
    """Run the stage on one song in a fresh process; its figures."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": str(threads)}
    if mmap_threshold is not None:
        env["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(mix), str(out), str(threads)],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"the stage failed on {mix}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="after",
                    help="the row label: 'after' for this tree, 'before' with PYTHONPATH at "
                         "an older checkout")
    ap.add_argument("--minutes", type=float, nargs="+", default=[3.0, 10.0])
    ap.add_argument("--threads", type=int, default=1, help="the stage's threads")
    ap.add_argument("--mmap-threshold", type=int, default=None, metavar="BYTES",
                    help="run the child with glibc's MALLOC_MMAP_THRESHOLD_ fixed at this "
                         "size: larger blocks are mapped and given back when freed (by "
                         "default the threshold grows to the largest freed block, up to "
                         "32 MiB, and the heap keeps freed segment-sized blocks), so the "
                         "peak shows the memory in use rather than what the allocator kept")
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--out", type=Path, default=OUT / "separation_memory.csv")
    args = ap.parse_args(argv)
    import numpy as np
    import soundfile as sf

    from vocalmix.corpus import demo

    rows = []
    if args.out.exists():
        with open(args.out, newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["label"] != args.label]
    print(f"generating a {max(args.minutes):g}-minute song", flush=True)
    audio, _ = demo.generate_song("long_song", "pop", duration_s=60.0 * max(args.minutes),
                                  sample_rate=SR, seed=args.seed)
    mixture = audio["mixture"]
    del audio
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in sorted(args.minutes):
            mix = Path(tmp) / f"song_{minutes:g}min.wav"
            sf.write(mix, np.ascontiguousarray(mixture[:, :int(round(minutes * 60 * SR))].T),
                     SR, subtype="FLOAT")
            r = measure(mix, Path(tmp) / f"out_{minutes:g}", args.threads,
                        args.mmap_threshold)
            if r["status"] != "ok":
                raise SystemExit(f"the stage did not separate {mix}: {r}")
            rows.append({"label": args.label, "minutes": minutes, **{k: r[k] for k in
                                                                     COLUMNS[2:]}})
            print(f"{args.label:7s} {minutes:5.1f} min: peak RSS {r['peak_rss_mib']:7.0f} MiB, "
                  f"{r['wall_s']:6.1f} s wall, {r['cpu_s']:6.1f} s CPU (streamed: "
                  f"{r['streamed']}; {r['code']})", flush=True)
            mix.unlink()
    rows.sort(key=lambda r: (r["label"] != "before", r["label"], float(r["minutes"])))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_table(args.out, rows, COLUMNS, cell=fixed(2, nonfinite=None), delimiter=",")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
