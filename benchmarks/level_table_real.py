"""How well each genre table predicts a held-out real song's vocal level (issue 24, item 3).

For every real song with a genre in a finished run (``results/features/<track>.json``), the
vocal-to-backing ratio and the vocal loudness range its genre row gives, against the song's
own measured values:

* ``priors``: the packaged table (``vocalmix/data/genre_stats_default.tsv``: published
  priors, Gerdes & Siedenburg 2023 for the level);
* ``demo``: the table the demo's synthetic training songs alone give (what a run without
  real songs learns);
* ``real``: the table of the run with real songs (:func:`vocalmix.features.summary.
  genre_stats` with the run's ``genre.min_real_songs``), each real training song predicted
  by a table built without it (leave-one-song-out); the real test songs (the MUSDB previews,
  true stems) by the table of all training songs.

A song's own values are as measured on its stems: true stems for the previews, separated
stems for the finished songs (uncorrected: no calibration tracks in the real-songs config).
A genre missing from a table takes its ``all`` row. Writes a CSV per song and a summary
(mean absolute error per table and protocol).

    .venv/bin/python benchmarks/level_table_real.py --results results \\
        [--out benchmarks/results/level_table_real.csv]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from real_common import add_arguments, load_config, protocol_sets, write_tables

from vocalmix.corpus.adapters import synthetic_datasets
from vocalmix.features.summary import OVERALL, genre_stats, is_real, read_genre_stats
from vocalmix.mixing.api import DEFAULT_GENRE_STATS
from vocalmix.models.genre import GenreSettings

TARGETS = ("vocal_to_backing_lu", "vocal_lra_lu")


def _value(f: dict, target: str) -> float | None:
    return f.get("vocal_to_backing_lu") if target == "vocal_to_backing_lu" else \
        (f.get("vocal") or {}).get("loudness_range_lu")


def _row(table: dict, genre: str | None) -> tuple[str, dict]:
    return (genre, table[genre]) if genre in table else (OVERALL, table[OVERALL])


def evaluate(features: list[dict], synthetic: list[str], min_real: int) -> list[dict]:
    usable = [f for f in features if f.get("vocal_to_backing_lu") is not None
              and f["source"] != "raw"]
    real = [f for f in usable if is_real(f, synthetic) and f.get("genre") not in (None, "unknown")]
    priors = read_genre_stats(DEFAULT_GENRE_STATS)
    demo = {r["genre"]: r for r in genre_stats([f for f in usable if not is_real(f, synthetic)],
                                               synthetic_datasets=synthetic)}
    full = {r["genre"]: r for r in genre_stats(usable, synthetic_datasets=synthetic,
                                               min_real_songs=min_real)}
    out = []
    for f in real:
        if f["split"] == "train":
            rest = [g for g in usable if g["track_id"] != f["track_id"]]
            real_table = {r["genre"]: r for r in genre_stats(rest, synthetic_datasets=synthetic,
                                                             min_real_songs=min_real)}
            protocol = "leave-one-song-out"
        else:
            real_table, protocol = full, "held-out test"
        row = {"track_id": f["track_id"], "dataset": f.get("dataset"), "split": f["split"],
               "genre": f["genre"], "protocol": protocol}
        for t in TARGETS:
            truth = _value(f, t)
            row[f"measured_{t}"] = truth
            for name, table in (("priors", priors), ("demo", demo), ("real", real_table)):
                used, r = _row(table, f["genre"])
                pred = r.get(t)
                row[f"{name}_{t}"] = pred
                row[f"{name}_{t}_abs_error"] = (abs(float(pred) - truth)
                                                if pred not in (None, "") and truth is not None
                                                else None)
                if t == TARGETS[0]:
                    row[f"{name}_row"] = f"{used} ({r.get('row_source') or 'corpus'})"
        out.append(row)
    return out


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for name, sel in protocol_sets(rows):
        s = {"set": name, "n": len(sel)}
        for t in TARGETS:
            for table in ("priors", "demo", "real"):
                v = [r[f"{table}_{t}_abs_error"] for r in sel
                     if r[f"{table}_{t}_abs_error"] is not None]
                s[f"mae_{t}_{table}"] = round(float(np.mean(v)), 3) if v else None
        out.append(s)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(ap, "level_table_real.csv")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    min_real = GenreSettings.from_mapping(cfg.get("genre") or {}).min_real_songs
    feats = []
    for p in sorted((Path(args.results) / "features").glob("*.json")):
        f = json.loads(p.read_text())
        if "track_id" in f and "split" in f:
            feats.append(f)
    rows = evaluate(feats, synthetic_datasets(cfg), min_real)
    if not rows:
        print("no real song with a genre in", args.results, file=sys.stderr)
        return 1
    write_tables(args.out, rows, summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
