"""Check the ``spleeter`` backend end to end with a tiny checkpoint trained locally.

No pretrained spleeter weights can be downloaded here, and spleeter 2.4.2 silently separates
with random weights when its model folder holds no checkpoint, so this script

1. refuses: ``vocalmix separate --backend spleeter`` on an empty model folder must fail
   with the checkpoint message (no spleeter process is started);
2. trains spleeter's own 2stems U-Nets for a few steps on two demo training songs
   (``benchmarks/spleeter_train_tiny.py``, run with spleeter's interpreter), giving a real
   TensorFlow checkpoint in ``<tmp>/models/2stems``;
3. separates a held-out demo song through the backend (``vocalmix.separation.external``:
   checkpoint check, the runner in spleeter's environment, audio back) and scores it.

A few steps cannot separate well; the point is that a genuine checkpoint loads and runs.

    .venv/bin/python benchmarks/spleeter_tiny_checkpoint.py --python .venv-spleeter/bin/python

Writes ``benchmarks/results/spleeter_tiny.csv``.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from vocalmix.audio import read_audio, to_channels

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> None:
    from vocalmix.separation import external, metrics

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", required=True, help="interpreter of spleeter's environment")
    ap.add_argument("--demo", default=str(REPO / "results" / "demo"))
    ap.add_argument("--train", nargs="+", default=["demo_000", "demo_002"])
    ap.add_argument("--test", default="demo_001")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "spleeter_tiny.csv"))
    args = ap.parse_args(argv)
    demo = Path(args.demo)
    rows = []
    with tempfile.TemporaryDirectory(prefix="spleeter-tiny-") as tmp:
        tmp = Path(tmp)
        (tmp / "models" / "2stems").mkdir(parents=True)
        mix, sr = read_audio(demo / args.test / "mixture.flac", sample_rate=44100)
        try:
            external.run_spleeter(mix, sr, {"model_path": str(tmp / "models"),
                                            "python": args.python})
            refused = "no"
        except external.SeparationError as exc:
            refused = "yes"
            print("refused as it should:", exc)
        data = tmp / "data"
        data.mkdir()
        for i, song in enumerate(args.train):
            for stem, name in (("vocal", "vocals"), ("backing", "accompaniment")):
                x, _ = read_audio(demo / song / f"{stem}.flac", sample_rate=44100)
                np.save(data / f"{i}.{name}.npy", to_channels(x, 2).T.astype(np.float32))
        t0 = time.perf_counter()
        proc = subprocess.run([args.python, str(REPO / "benchmarks" / "spleeter_train_tiny.py"),
                               "--data", str(data), "--model-dir", str(tmp / "models" / "2stems"),
                               "--steps", str(args.steps)], capture_output=True, text=True)
        train_s = time.perf_counter() - t0
        print(proc.stdout[-500:])
        if proc.returncode:
            raise SystemExit(f"training failed:\n{proc.stderr[-3000:]}")
        ckpt = external.check_spleeter_checkpoint(tmp / "models" / "2stems")
        print("checkpoint:", ckpt["prefix"], sum(Path(p).stat().st_size for p in ckpt["data"]),
              "bytes")
        t0 = time.perf_counter()
        v_hat, b_hat = external.run_spleeter(mix, sr, {"model_path": str(tmp / "models"),
                                                        "model": "2stems", "python": args.python})
        sep_s = time.perf_counter() - t0
        v, _ = read_audio(demo / args.test / "vocal.flac", sample_rate=44100)
        b, _ = read_audio(demo / args.test / "backing.flac", sample_rate=44100)
        s = metrics.score(v, b, v_hat, b_hat)
        base = metrics.si_sdr(v, mix)
        rows.append({"refused_empty_dir": refused, "train_steps": args.steps,
                     "train_seconds": round(train_s, 1), "separate_seconds": round(sep_s, 1),
                     "audio_s": round(mix.shape[1] / sr, 2),
                     **{k: round(x, 3) for k, x in s.items()},
                     "mixture_vocal_si_sdr_db": round(base, 3),
                     "vocal_plus_backing_error": float(np.max(np.abs(v_hat + b_hat - mix)))})
    print(rows[0])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("wrote", out)


if __name__ == "__main__":
    main()
