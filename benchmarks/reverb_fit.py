"""Benchmark: genetic fit of the project's reverb vs random search, and time per fit.

* The 12 measured responses in ``../shared/data/real/irs`` (resampled to 44.1 kHz): the GA
  and random search with the same number of evaluations, each seeded; per response the
  target and fitted mid-band T60, C50, C80, DRR, EDT, pre-delay, their errors, the cost,
  evaluations and seconds (one core).
* The demo rooms: the fit from the known room response and, blind, from the wet vocal
  alone; mid-band T60 error against the room's true T60.

Writes ``benchmarks/results/reverb_fit_measured.csv``, ``reverb_fit_demo.csv`` and prints the
median errors per method and whether the GA keeps every measured response's mid-band T60
within 5 % (the quality bar; with ``--seeds`` over every seed).

    .venv/bin/python benchmarks/reverb_fit.py [--songs 16] [--seeds 1]
"""

from __future__ import annotations

import argparse
import csv
import glob
import statistics
from pathlib import Path

import numpy as np

from vocalmix.corpus import demo
from vocalmix.corpus.demo_layout import genre_of, song_ids
from vocalmix.measure.reverb import analyse_ir
from vocalmix.features.reverb_fit import fit_ga, fit_wet, random_search
from vocalmix.audio import read_audio

OUT = Path(__file__).resolve().parent / "results"
REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"
SR = 44100
KEYS = ("t60_mid_s", "edt_s", "c50_db", "c80_db", "drr_db", "predelay_ms")
T60_BAR_PCT = 5.0  # the fit's quality bar: fitted mid-band T60 within 5 % of the room's


def errors(fitted, target) -> dict:
    out = {}
    for k in KEYS:
        f, t = getattr(fitted, k), getattr(target, k)
        if f is None or t is None:
            out[f"err_{k}"] = None
        elif k in ("t60_mid_s", "edt_s"):
            out[f"err_{k}"] = 100 * (f / t - 1)  # percent
        else:
            out[f"err_{k}"] = f - t
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20261125)
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in sorted(glob.glob(str(REAL / "irs" / "*" / "*.wav"))):
        ir, _ = read_audio(f, sample_rate=SR)
        target = analyse_ir(ir, SR)
        name = f"{Path(f).parent.name}/{Path(f).stem}"
        for seed in range(args.seeds):
            ga = fit_ga(target, SR, seed=seed)
            rs = random_search(target, SR, seed=seed, evaluations=ga.evaluations)
            for res in (ga, rs):
                row = {"response": name, "method": res.method, "seed": seed,
                       "cost": res.cost, "evaluations": res.evaluations,
                       "seconds": res.seconds,
                       **{f"target_{k}": getattr(target, k) for k in KEYS},
                       **{f"fitted_{k}": getattr(res.fitted, k) for k in KEYS},
                       **errors(res.fitted, target), **{f"param_{k}": v for k, v in
                                                        res.settings.to_dict().items()}}
                rows.append(row)
            print(f"{name:28s} GA cost {ga.cost:7.2f} ({ga.seconds:.1f} s, {ga.evaluations} ev)"
                  f"  random {rs.cost:7.2f}   T60 err GA {rows[-2]['err_t60_mid_s']:+6.1f}%"
                  f" C50 err GA {rows[-2]['err_c50_db']:+5.2f} dB")
    with open(OUT / "reverb_fit_measured.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("\nmedian |error| over the measured responses (GA vs random search, equal evaluations):")
    for method in ("ga", "random"):
        sel = [r for r in rows if r["method"] == method]
        parts = [f"cost {statistics.median(r['cost'] for r in sel):6.2f}"]
        for k in KEYS:
            v = [abs(r[f"err_{k}"]) for r in sel if r[f"err_{k}"] is not None]
            unit = "%" if k in ("t60_mid_s", "edt_s") else (" ms" if k == "predelay_ms" else " dB")
            parts.append(f"{k} {statistics.median(v):.2f}{unit}")
        secs = [r["seconds"] for r in sel]
        parts.append(f"time median {statistics.median(secs):.2f} s max {max(secs):.2f} s")
        print(f"  {method:7s}", ", ".join(parts))
    worst = max(abs(r["err_t60_mid_s"]) for r in rows if r["method"] == "ga")
    print(f"quality bar (issue 20): GA mid-band T60 within {T60_BAR_PCT:.0f} % on every measured "
          f"response: {'yes' if worst <= T60_BAR_PCT else 'no'} (worst {worst:.2f} %)")

    demo_rows = []
    genres = list(demo.GENRES)
    for i, song in enumerate(song_ids(args.songs)):
        audio, truth = demo.generate_song(song, genre_of(i, genres), duration_s=20.0,
                                          sample_rate=SR, seed=args.seed)
        room = truth["professional"]["room"]
        true_t60 = float(np.mean([room["t60_s"][b] for b in ("500", "1000", "2000")]))
        known = fit_ga(analyse_ir(audio["room_ir"], SR), SR, seed=i)
        try:
            blind = fit_wet(audio["vocal"], SR, seed=i)
            blind_t60 = blind.fitted.t60_mid_s
        except ValueError:
            blind, blind_t60 = None, None
        demo_rows.append({
            "song": song, "genre": truth["genre"], "true_t60_mid_s": true_t60,
            "known_fit_t60_mid_s": known.fitted.t60_mid_s,
            "known_fit_error_pct": 100 * (known.fitted.t60_mid_s / true_t60 - 1),
            "known_fit_seconds": known.seconds,
            "blind_fit_t60_mid_s": blind_t60,
            "blind_fit_error_pct": None if blind_t60 is None else 100 * (blind_t60 / true_t60 - 1),
            "blind_fit_seconds": None if blind is None else blind.seconds})
    with open(OUT / "reverb_fit_demo.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(demo_rows[0]))
        w.writeheader()
        w.writerows(demo_rows)
    k = [abs(r["known_fit_error_pct"]) for r in demo_rows]
    b = [abs(r["blind_fit_error_pct"]) for r in demo_rows if r["blind_fit_error_pct"] is not None]
    print(f"\ndemo rooms ({len(demo_rows)}): fit from the known response |T60 error| median "
          f"{statistics.median(k):.1f}%, max {max(k):.1f}%; from the wet vocal alone median "
          f"{statistics.median(b):.1f}% ({len(demo_rows) - len(b)} without a free decay)")
    print(f"wrote {OUT / 'reverb_fit_measured.csv'} and {OUT / 'reverb_fit_demo.csv'}")


if __name__ == "__main__":
    main()
