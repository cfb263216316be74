"""Benchmark: blind reverberation estimation from wet singing (no impulse response).

Dry singing -- the demo corpus's dry vocals and the real solo vocals in
``../shared/data/real/solo_vocals`` (vocadito, the OpenAIR anechoic operatic voice) -- is
convolved with (a) the demo's synthetic rooms of known T60 and (b) the measured responses in
``../shared/data/real/irs``; the blind estimator then sees only the wet result. Errors of the
mid-band T60 (%) and of the DRR-like figure (dB) against the response's own descriptors go to
``benchmarks/results/reverb_blind.csv``, with a summary of their distribution.

    .venv/bin/python benchmarks/reverb_blind.py [--songs 16]
"""

from __future__ import annotations

import argparse
import csv
import glob
import statistics
from pathlib import Path

import numpy as np
from scipy.signal import oaconvolve

from vocalmix.corpus import demo
from vocalmix.corpus.demo_layout import genre_of, song_ids
from vocalmix.measure.reverb import analyse_ir
from vocalmix.measure.reverb_blind import estimate
from vocalmix.audio import read_audio

OUT = Path(__file__).resolve().parent / "results"
REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"
SR = 44100


def load(path: str) -> np.ndarray:
    x, sr = read_audio(path, sample_rate=SR)
    return x.mean(axis=0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=16)
    ap.add_argument("--seed", type=int, default=20261125)
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    dry_sources: dict[str, np.ndarray] = {}
    rooms: dict[str, np.ndarray] = {}
    genres = list(demo.GENRES)
    for i, song in enumerate(song_ids(args.songs)):
        audio, truth = demo.generate_song(song, genre_of(i, genres), duration_s=20.0,
                                          sample_rate=SR, seed=args.seed)
        dry_sources[f"demo:{song}"] = audio["dry_vocal"][0]
        rooms[f"demo-room:{song}"] = audio["room_ir"]
    for f in sorted(glob.glob(str(REAL / "solo_vocals" / "**" / "*.wav"), recursive=True)):
        dry_sources[f"real:{Path(f).stem}"] = load(f)
    for f in sorted(glob.glob(str(REAL / "irs" / "*" / "*.wav"))):
        x, _ = read_audio(f, sample_rate=SR)
        rooms[f"measured:{Path(f).parent.name}/{Path(f).stem}"] = x
    rows = []
    for room, ir in rooms.items():
        truth = analyse_ir(ir, SR)
        # demo rooms with their own song; measured rooms with every source
        if room.startswith("demo-room:"):
            sources = [f"demo:{room.split(':')[1]}"]
        else:
            sources = [s for s in dry_sources if s.startswith("real:")] + ["demo:demo_000"]
        for src in sources:
            dry = dry_sources[src]
            wet = np.stack([oaconvolve(dry, ir[c])[: dry.size] for c in range(ir.shape[0])])
            est = estimate(wet, SR)
            row = {"room": room, "source": src, "true_t60_mid_s": truth.t60_mid_s,
                   "est_t60_mid_s": est.t60_mid_s, "true_drr_db": truth.drr_db,
                   "est_drr_db": est.drr_db, "decays": est.decays}
            row["t60_error_pct"] = (100 * (est.t60_mid_s / truth.t60_mid_s - 1)
                                    if est.t60_mid_s else None)
            row["drr_error_db"] = (est.drr_db - truth.drr_db
                                   if est.drr_db is not None and truth.drr_db is not None
                                   else None)
            rows.append(row)
    with open(OUT / "reverb_blind.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for group in ("demo-room", "measured"):
        sel = [r for r in rows if r["room"].startswith(group)]
        t = [abs(r["t60_error_pct"]) for r in sel if r["t60_error_pct"] is not None]
        d = [abs(r["drr_error_db"]) for r in sel if r["drr_error_db"] is not None]
        missing = sum(r["t60_error_pct"] is None for r in sel)
        if t:
            print(f"{group:10s} n={len(sel):3d} no estimate={missing:2d} |T60 error| median "
                  f"{statistics.median(t):5.1f}%  p75 {np.percentile(t, 75):5.1f}%  "
                  f"|DRR error| median {statistics.median(d) if d else float('nan'):4.1f} dB")
    print(f"wrote {OUT / 'reverb_blind.csv'}")


if __name__ == "__main__":
    main()
