"""Benchmark: the builtin separator -- quality on held-out material, and speed.

Quality: every test-split track with ground truth of the configured corpus (by default the
demo's 12 held-out songs; with ``--configfile benchmarks/configs/commercial_mixes.yaml`` also
the three MUSDB18-HQ previews in ``../shared/data/real``) is separated by

* ``builtin:network`` -- the trained mask network (``results/separated/model/separator.pt``,
  made by ``snakemake results/separated/model/separator.pt``; from the training split only),
* ``builtin:repet_sim`` -- the training-free classical alternative (REPET-SIM),

and scored with SDR and SI-SDR (vocal and backing, dB) next to the trivial baselines
(``mixture``; ``half_mixture``, a constant 0.5 mask) and the oracle ``ideal_ratio_mask``.
``vocal_si_sdr_gain_db`` is the gain over the mixture-as-estimate baseline (target: >= 6 dB
on the held-out demo songs).

Speed: a 4-minute song (the real 133-s ``full_mixes`` song repeated to 240 s, or a demo song
repeated when the real data is absent) separated by the builtin network, with 1 and 2 CPU
threads, best of ``--repeats`` runs, including resampling but not file input/output; and
once by REPET-SIM.

Writes ``benchmarks/results/separation.csv``.

    .venv/bin/python benchmarks/separation.py [--workdir .] [--model FILE] \\
        [--configfile config.yaml benchmarks/configs/commercial_mixes.yaml]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import yaml
from vocalmix.audio import read_audio
from vocalmix.tables import fixed, write_table

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
FULL_MIX = REPO.parent / "shared" / "data" / "real" / "full_mixes" / \
    "Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg"
COLUMNS = ("kind", "dataset", "track", "method", "vocal_sdr_db", "vocal_si_sdr_db",
           "backing_sdr_db", "backing_si_sdr_db", "vocal_si_sdr_gain_db", "audio_s", "seconds",
           "threads", "realtime_factor")


def _builtin(method: str):
    """Settings of the builtin backend running ``method`` (network or repet_sim)."""
    from vocalmix.separation.settings import SeparationSettings

    return SeparationSettings.from_mapping({"backend": "builtin",
                                            "builtin": {"method": method}})


def _config(files: list[str]) -> dict:
    from vocalmix.config import _merge, validate_config

    cfg: dict = {}
    for f in files:
        with open(f) as fh:
            _merge(cfg, yaml.safe_load(fh) or {})
    return validate_config(cfg)


def quality(cfg: dict, model, repet: bool) -> list[dict]:
    from vocalmix.corpus.tracks import TrackRejected
    from vocalmix.corpus.adapters import discover
    from vocalmix.separation.api import separate
    from vocalmix.separation.quality import evaluate_track
    from vocalmix.separation.training import load_stems, training_candidates

    rows = []
    cands, _ = discover(cfg)
    sr = int(cfg["sample_rate"])
    for c in training_candidates(cands, "test"):
        try:
            stems = load_stems(c, cfg)
        except TrackRejected as exc:
            print(f"skipped {c.track_id}: {exc}")
            continue
        mix = stems.meta["mixture"]
        mix = stems.vocal + stems.backing if mix is None else mix
        estimates = {}
        t0 = time.perf_counter()
        v, b, _ = separate(mix, sr, _builtin("network"), model=model, threads=1)
        estimates["builtin:network"] = (v, b)
        seconds = {"builtin:network": time.perf_counter() - t0}
        if repet:
            t0 = time.perf_counter()
            v, b, _ = separate(mix, sr, _builtin("repet_sim"))
            estimates["builtin:repet_sim"] = (v, b)
            seconds["builtin:repet_sim"] = time.perf_counter() - t0
        scores = evaluate_track(stems.vocal, stems.backing, mix, estimates)
        for method, s in scores.items():
            rows.append({"kind": "quality", "dataset": c.dataset, "track": c.track_id,
                         "method": method, **s, "audio_s": mix.shape[1] / sr,
                         "seconds": seconds.get(method),
                         "threads": 1 if method in seconds else None})
        print(f"{c.track_id:32s} vocal SI-SDR gain: network "
              f"{scores['builtin:network']['vocal_si_sdr_gain_db']:6.2f} dB"
              + (f", repet_sim {scores['builtin:repet_sim']['vocal_si_sdr_gain_db']:6.2f} dB"
                 if repet else "") + f"  (mixture {scores['mixture']['vocal_si_sdr_db']:6.2f} dB)")
    return rows


def speed(cfg: dict, model, repeats: int, workdir: Path, repet: bool) -> list[dict]:
    from vocalmix.separation.api import separate

    sr = int(cfg["sample_rate"])
    if FULL_MIX.exists():
        song, src = read_audio(FULL_MIX, sample_rate=sr)[0], FULL_MIX.name
    else:
        demo = sorted((workdir / "results" / "demo").glob("demo_*/mixture.flac"))[0]
        song, src = read_audio(demo, sample_rate=sr)[0], str(demo)
    n = 240 * sr
    song = np.tile(song, (1, int(np.ceil(n / song.shape[1]))))[:, :n]
    rows = []
    for threads in (1, 2):
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            separate(song, sr, _builtin("network"), model=model, threads=threads)
            best = min(best, time.perf_counter() - t0)
        rows.append({"kind": "speed", "dataset": "4-minute song", "track": src,
                     "method": "builtin:network", "audio_s": 240.0, "seconds": best,
                     "threads": threads, "realtime_factor": 240.0 / best})
        print(f"4-minute song, builtin network, {threads} thread(s): {best:.1f} s "
              f"({240.0 / best:.0f}x real time)")
    if repet:  # numpy/scipy; one run (it is slow)
        t0 = time.perf_counter()
        separate(song, sr, _builtin("repet_sim"))
        seconds = time.perf_counter() - t0
        rows.append({"kind": "speed", "dataset": "4-minute song", "track": src,
                     "method": "builtin:repet_sim", "audio_s": 240.0, "seconds": seconds,
                     "threads": "numpy default", "realtime_factor": 240.0 / seconds})
        print(f"4-minute song, REPET-SIM: {seconds:.1f} s")
    return rows


def summary(rows: list[dict]) -> None:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["kind"] == "quality":
            groups.setdefault((r["dataset"], r["method"]), []).append(r)
    print(f"\n{'dataset':12s} {'method':20s} {'n':>3s} {'vocal SI-SDR':>13s} {'gain':>7s} "
          f"{'min gain':>9s} {'vocal SDR':>10s} {'backing SI-SDR':>15s}")
    for (ds, m), rs in sorted(groups.items()):
        g = [r["vocal_si_sdr_gain_db"] for r in rs]
        print(f"{ds:12s} {m:20s} {len(rs):3d} {np.mean([r['vocal_si_sdr_db'] for r in rs]):13.2f} "
              f"{np.mean(g):7.2f} {np.min(g):9.2f} "
              f"{np.mean([r['vocal_sdr_db'] for r in rs]):10.2f} "
              f"{np.mean([r['backing_si_sdr_db'] for r in rs]):15.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default=str(REPO),
                    help="pipeline working directory (its results/demo and model are used)")
    ap.add_argument("--configfile", nargs="+", default=[str(REPO / "config.yaml")])
    ap.add_argument("--model", default=None,
                    help="builtin network (default <workdir>/results/separated/model/separator.pt)")
    ap.add_argument("--no-repet", action="store_true", help="skip REPET-SIM (slow)")
    ap.add_argument("--repeats", type=int, default=2, help="timing runs per thread count")
    ap.add_argument("--out", default=str(OUT / "separation.csv"))
    args = ap.parse_args(argv)
    from vocalmix.separation.builtin import load_model

    files = [str(Path(f).resolve()) for f in args.configfile]
    workdir = Path(args.workdir).resolve()
    model_path = Path(args.model).resolve() if args.model else \
        workdir / "results/separated/model/separator.pt"
    os.chdir(workdir)  # the corpus's relative paths (results/demo, ../shared) are from here
    cfg = _config(files)
    model = load_model(model_path)
    rows = quality(cfg, model, repet=not args.no_repet)
    rows += speed(cfg, model, args.repeats, workdir, repet=not args.no_repet)
    summary(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_table(out, rows, COLUMNS, cell=fixed(3, nonfinite=None), delimiter=",")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
