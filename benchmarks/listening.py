"""Benchmark: the listening-test path on the simulated panel, over several seeds.

For an exported test (``listening_test/waet``) and the objective metrics of a pipeline run
(``results/evaluation/per_track.tsv``), each seed simulates a panel (24 listeners, 2 of them
careless, as configured by default), imports it and runs the statistics. One row per seed in
``benchmarks/results/listening.csv``: the time of each step; how many careless listeners
post-screening excluded and how many reliable ones it excluded too; the condition effect
(F, GG-corrected p, partial eta squared); how many of the pairwise differences were
significant after Holm; and whether the order of the mean grades matches the order of the
model's expected grades (Spearman rho over conditions).

    .venv/bin/python benchmarks/listening.py --seeds 10
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats as st

from vocalmix.stats.analysis import OUTPUTS, analyse
from vocalmix.stats.tables import read_table
from vocalmix.listening import TEST_XML
from vocalmix.listening.export import read_key
from vocalmix.listening.results import import_results, write_ratings
from vocalmix.listening.simulate import SimulationSettings, simulate_panel

OUT = Path(__file__).resolve().parent / "results"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--waet", default="listening_test/waet")
    ap.add_argument("--metrics", default="results/evaluation/per_track.tsv")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--listeners", type=int, default=None)
    args = ap.parse_args(argv)
    sim = SimulationSettings()
    n = args.listeners or sim.listeners
    waet = Path(args.waet)
    key = read_key(waet / "KEY.tsv")
    rows = []
    for seed in range(args.seeds):
        tmp = Path(tempfile.mkdtemp(prefix="listening-bench-"))
        try:
            t0 = time.perf_counter()
            model = simulate_panel(
                waet / TEST_XML, waet / "KEY.tsv", args.metrics,
                [tmp / f"complete-{i:02d}.xml" for i in range(1, n + 1)],
                [tmp / "abandoned-01.xml"], seed=seed, settings=sim)
            t1 = time.perf_counter()
            ratings, summary = import_results(tmp, key)
            write_ratings(tmp / "ratings.tsv", ratings, simulated=True)
            t2 = time.perf_counter()
            outs = {k: tmp / v for k, v in OUTPUTS.items()}
            s = analyse(tmp / "ratings.tsv", outs)
            t3 = time.perf_counter()
            ids = {r["listener"]: r["survey_listener_id"] for r in ratings}
            excluded = {ids[k] for k in s["excluded"]}
            careless = set(model["careless"])
            ph = read_table(outs["posthoc"])[1]
            conds = list(s["means"])
            expected = [np.mean([v for k, v in model["expected"].items()
                                 if k.endswith("/" + c)]) for c in conds]
            rho = st.spearmanr(expected, [s["means"][c] for c in conds]).statistic
            ce = s.get("condition_effect", {})
            rows.append({
                "seed": seed, "items": s["items"], "listeners": s["listeners"],
                "simulate_s": round(t1 - t0, 3), "import_s": round(t2 - t1, 3),
                "analyse_s": round(t3 - t2, 3),
                "careless_excluded": len(excluded & careless), "careless": len(careless),
                "reliable_excluded": len(excluded - careless),
                "F": round(ce.get("F", float("nan")), 3),
                "p_gg": ce.get("p_gg", float("nan")),
                "partial_eta_sq": round(ce.get("partial_eta_sq", float("nan")), 4),
                "pairs_significant": int((ph["significant_t"] == "true").sum()),
                "pairs": len(ph), "rank_rho": round(float(rho), 3),
            })
            print(rows[-1], flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "listening.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    caught = sum(r["careless_excluded"] for r in rows)
    total = sum(r["careless"] for r in rows)
    false = sum(r["reliable_excluded"] for r in rows)
    print(f"{len(rows)} seeds: careless excluded {caught}/{total}; reliable excluded {false}"
          f"/{sum(r['listeners'] - r['careless'] for r in rows)}; median times: simulate "
          f"{np.median([r['simulate_s'] for r in rows]):.2f} s, import "
          f"{np.median([r['import_s'] for r in rows]):.2f} s, analyse "
          f"{np.median([r['analyse_s'] for r in rows]):.2f} s; median rank rho "
          f"{np.median([r['rank_rho'] for r in rows]):.2f} -> {OUT / 'listening.csv'}")


if __name__ == "__main__":
    main()
