"""What the real-material benchmarks share (``genre_real.py``, ``level_table_real.py``,
``level_model_real.py``): their command-line arguments, the run's merged config, the
per-song protocol sets and the two CSVs each writes."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ["config.yaml", "benchmarks/configs/real_songs.yaml"]


def add_arguments(ap: argparse.ArgumentParser, out_name: str) -> None:
    """``--results`` (a finished run's results folder), ``--config`` (its config files,
    later ones overriding) and ``--out`` (the per-row CSV; the summary goes beside it)."""
    ap.add_argument("--results", default="results", help="a finished run's results folder")
    ap.add_argument("--config", nargs="+", default=CONFIGS,
                    help="the run's config files (later ones override)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / out_name))


def load_config(paths: list[str]) -> dict:
    """The run's config: the files' top-level sections, later files overriding."""
    cfg: dict = {}
    for path in paths:
        with open(path) as fh:
            cfg.update(yaml.safe_load(fh) or {})
    return cfg


def protocol_sets(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """The per-song rows as the three reported sets: the real training songs (left out one
    at a time), the real test songs, and all of them; empty sets left out."""
    sets = [("real training songs (leave-one-song-out)",
             [r for r in rows if r["protocol"] == "leave-one-song-out"]),
            ("real test songs", [r for r in rows if r["protocol"] == "held-out test"]),
            ("all real songs", rows)]
    return [(name, sel) for name, sel in sets if sel]


def write_tables(out: str | Path, rows: list[dict], summary: list[dict]) -> None:
    """``out`` (one row per song or fold) and ``<out stem>_summary.csv``; the summary
    printed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, table in ((out, rows), (out.with_name(out.stem + "_summary.csv"), summary)):
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(table[0]))
            w.writeheader()
            w.writerows(table)
    for s in summary:
        print(s)
