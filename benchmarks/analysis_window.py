"""Benchmark: what mixing a long song on its analysis window changes (issue 19).

The pipeline's mixing systems analyse and mix at most ``mixing.analysis_s`` (180 s) of a
song, the window centred on its listening-test excerpt, so that their jobs' memory stops
growing with the song (:func:`vocalmix.evaluation.render.analysis_window`). This benchmark
renders each test song of a finished full-length run (``benchmarks/long_songs.py --keep``)
longer than the window with the render stage twice -- on the window, and on the whole song
(``analysis_s`` past the song's length) -- for every mixing condition, and compares what
listeners get: the excerpt's vocal-to-backing balance and its error against the
professional mix's (the dataset's processed vocal over the backing, the restoration
protocol's truth), the excerpt's vocal loudness range, and the recipe's decisions (vocal
gain, compressor threshold, reverb return, EQ bands), with the job's wall time.

Writes ``benchmarks/results/analysis_window.csv`` (one row per song, condition and mode)
and ``analysis_window_summary.csv`` (per condition: mean absolute balance error of each
mode, mean absolute difference between the modes). Runs by hand, about 4 minutes on 2
cores:

    .venv/bin/python benchmarks/analysis_window.py [--run /tmp/vocalmix-long/run]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from vocalmix.tables import fixed, write_table

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
CONDITIONS = ("rule_based", "data_driven", "commercial")
COLUMNS = ("track", "minutes", "condition", "mode", "window_start_s", "window_s",
           "balance_lu", "truth_balance_lu", "balance_error_lu", "vocal_lra_lu",
           "gain_db", "threshold_db", "reverb_wet_db", "eq_bands", "wall_s")
SUMMARY_COLUMNS = ("condition", "songs", "balance_error_window_lu", "balance_error_whole_lu",
                   "balance_diff_lu", "lra_diff_lu", "gain_diff_db", "wall_window_s",
                   "wall_whole_s")


def _params(row: dict, condition: str, config: dict, genre: tuple, analysis_s: float) -> dict:
    return {"row": row, "condition": condition, "input_role": "corrupted",
            "reference": row.get("mixture"), "commercial": None,
            "genre": genre[0], "genre_source": genre[1], "render": config["render"],
            "listening": {k: config["listening"][k] for k in ("loudness_lufs",
                                                              "true_peak_dbtp")},
            "sample_rate": config["sample_rate"],
            "mixing": {**config["mixing"], "analysis_s": analysis_s},
            "hop_s": config["features"]["hop_s"], "separation": config.get("separation")}


def _inputs(run: Path, tid: str, condition: str) -> dict:
    res = run / "results"
    inputs = {"excerpt": str(res / "renders" / tid / "excerpt.json"),
              "vocal_in": str(res / "corrupted" / tid / "v0.flac"),
              "genres": str(res / "corpus" / "genres.tsv")}
    if condition == "rule_based":
        inputs["genre_stats"] = str(res / "features" / "genre_stats.tsv")
    if condition == "data_driven":
        inputs["models"] = [str(res / "models" / t / "model.pt")
                            for t in ("level", "eq", "compression", "reverb")]
    return inputs


def _truth(row: dict, excerpt: dict, sr: int) -> float:
    """The professional excerpt's balance: the processed vocal over the backing."""
    from vocalmix.evaluation.objective import balance_lu
    from vocalmix.evaluation.render import cut_excerpt, excerpt_window, read_window

    window = excerpt_window(excerpt, sr)
    v = read_window(row["vocal"], sr, window)
    b = read_window(row["backing"], sr, window)
    return balance_lu(cut_excerpt(v, sr, excerpt, offset=window[0]),
                      cut_excerpt(b, sr, excerpt, offset=window[0]), sr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=Path("/tmp/vocalmix-long/run"))
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml")
    args = ap.parse_args()
    run = args.run.resolve()
    os.chdir(run)  # the track sheet's paths are relative to the run

    from vocalmix.audio import read_audio
    from vocalmix.config import schema_defaults
    from vocalmix.corpus.manifest import read_manifest
    from vocalmix.evaluation.objective import balance_lu
    from vocalmix.files import read_json
    from vocalmix.measure.loudness import loudness_range
    from vocalmix.models.genre import read_genres
    from vocalmix.stages.render import render

    config = yaml.safe_load(args.config.read_text())
    for section in ("render", "listening", "mixing", "features"):
        config[section] = {**schema_defaults(section), **(config.get(section) or {})}
    sr = int(config["sample_rate"])
    analysis_s = float(config["mixing"]["analysis_s"])
    genres = read_genres(run / "results" / "corpus" / "genres.tsv")
    rows = [r for r in read_manifest(run / "results" / "corpus" / "tracks.tsv")
            if r["split"] == "test" and float(r["duration_s"]) > analysis_s
            and (run / "results" / "renders" / r["track_id"] / "excerpt.json").is_file()]
    if not rows:
        raise SystemExit(f"{run}: no test song longer than {analysis_s:.0f} s")
    out_rows = []
    with tempfile.TemporaryDirectory(prefix="analysis-window.") as tmp:
        for row in rows:
            tid = row["track_id"]
            excerpt = read_json(run / "results" / "renders" / tid / "excerpt.json")
            truth = _truth(row, excerpt, sr)
            g = genres[tid]
            for condition in CONDITIONS:
                genre = ((g["genre_resolved"], g["genre_resolved_source"])
                         if condition == "rule_based" else (row.get("genre"),
                                                            row.get("genre_source")))
                for mode, a_s in (("window", analysis_s),
                                  ("whole", float(row["duration_s"]) + 60.0)):
                    outs = {k: str(Path(tmp) / f"{tid}.{condition}.{mode}.{k}.{ext}")
                            for k, ext in (("audio", "wav"), ("vocal", "flac"),
                                           ("backing", "flac"), ("json", "json"))}
                    t0 = time.perf_counter()
                    render(_inputs(run, tid, condition), outs,
                           _params(row, condition, config, genre, a_s))
                    wall = time.perf_counter() - t0
                    v, _ = read_audio(outs["vocal"])
                    b, _ = read_audio(outs["backing"])
                    info = read_json(outs["json"])
                    rec = info["recipe"]["vocal"]
                    comp = rec.get("compressor") or {}
                    rev = rec.get("reverb") or {}
                    win = info.get("analysis_window") or {}
                    bal = balance_lu(v, b, sr)
                    out_rows.append({
                        "track": tid, "minutes": float(row["duration_s"]) / 60.0,
                        "condition": condition, "mode": mode,
                        "window_start_s": win.get("start_s"),
                        "window_s": win.get("duration_s", float(row["duration_s"])),
                        "balance_lu": bal, "truth_balance_lu": truth,
                        "balance_error_lu": abs(bal - truth),
                        "vocal_lra_lu": loudness_range(v, sr),
                        "gain_db": rec.get("gain_db"),
                        "threshold_db": comp.get("threshold_db"),
                        "reverb_wet_db": rev.get("wet_db"),
                        "eq_bands": len(rec.get("eq") or []), "wall_s": wall})
                    print(f"{tid} {condition:11s} {mode:6s} balance {bal:+6.2f} LU "
                          f"(truth {truth:+6.2f}), gain {rec.get('gain_db'):+6.2f} dB, "
                          f"{wall:5.1f} s", flush=True)
                    for p in outs.values():
                        Path(p).unlink(missing_ok=True)
    summary = []
    for condition in CONDITIONS:
        sub = {m: [r for r in out_rows if r["condition"] == condition and r["mode"] == m]
               for m in ("window", "whole")}
        pairs = list(zip(sub["window"], sub["whole"]))

        def mean(values):
            values = [v for v in values if v is not None and math.isfinite(v)]
            return float(np.mean(values)) if values else None

        summary.append({
            "condition": condition, "songs": len(pairs),
            "balance_error_window_lu": mean([r["balance_error_lu"] for r in sub["window"]]),
            "balance_error_whole_lu": mean([r["balance_error_lu"] for r in sub["whole"]]),
            "balance_diff_lu": mean([abs(a["balance_lu"] - b["balance_lu"]) for a, b in pairs]),
            "lra_diff_lu": mean([abs(a["vocal_lra_lu"] - b["vocal_lra_lu"]) for a, b in pairs]),
            "gain_diff_db": mean([abs(a["gain_db"] - b["gain_db"]) for a, b in pairs]),
            "wall_window_s": mean([r["wall_s"] for r in sub["window"]]),
            "wall_whole_s": mean([r["wall_s"] for r in sub["whole"]])})
    OUT.mkdir(parents=True, exist_ok=True)
    write_table(OUT / "analysis_window.csv", out_rows, COLUMNS, cell=fixed(3), delimiter=",")
    write_table(OUT / "analysis_window_summary.csv", summary, SUMMARY_COLUMNS, cell=fixed(3),
                delimiter=",")
    for s in summary:
        print(s)


if __name__ == "__main__":
    sys.exit(main())
