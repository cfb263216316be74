"""Corpus-level feature tables (rule ``summarise_features``).

* ``summary.tsv``: one row per track with its headline features.
* ``genre_stats.tsv``: per genre, from the *training* split's processed vocals only, the
  median vocal-to-backing loudness ratio and vocal loudness range with counts, plus one
  ``all`` row (the overall median) used for genres that are not in the table
  (proposal IV.A.1: "for genres that are not included, the ratio will be set to the
  average value of the analysis").
* ``truth_check.tsv``: for tracks with generator ground truth (the demo), measured versus
  recorded values and their errors.
* ``feature_distributions.png``: vocal-to-backing ratio and vocal LRA by genre.
"""

from __future__ import annotations

import logging

import numpy as np
from vocalmix.audio import read_audio


log = logging.getLogger(__name__)

__all__ = ["summary_rows", "genre_stats", "truth_rows", "read_genre_stats"]

OVERALL = "all"


def _get(feats: dict, role: str, key: str):
    block = feats.get(role)
    return None if not block else block.get(key)


def summary_rows(features: list[dict]) -> list[dict]:
    rows = []
    for f in features:
        rows.append({
            "track_id": f["track_id"], "dataset": f.get("dataset"), "split": f["split"],
            "genre": f["genre"], "source": f["source"], "duration_s": f["duration_s"],
            "vocal_lufs": _get(f, "vocal", "integrated_lufs"),
            "backing_lufs": _get(f, "backing", "integrated_lufs"),
            "mixture_lufs": _get(f, "mixture", "integrated_lufs"),
            "vocal_to_backing_lu": f.get("vocal_to_backing_lu"),
            "vocal_lra_lu": _get(f, "vocal", "loudness_range_lu"),
            "vocal_crest_factor_db": _get(f, "vocal", "crest_factor_db"),
            "vocal_active_fraction": _get(f, "vocal", "active_fraction"),
            "raw_vocal_lufs": _get(f, "raw_vocal", "integrated_lufs"),
            "raw_vocal_to_backing_lu": f.get("raw_vocal_to_backing_lu"),
            "raw_vocal_lra_lu": _get(f, "raw_vocal", "loudness_range_lu"),
            "reverb_t60_mid_s": (f.get("reverb") or {}).get("fitted", {}).get("t60_mid_s"),
            "windows": f["windows"]["count"], "silent_windows": f["windows"]["silent"],
        })
    return rows


def genre_stats(features: list[dict]) -> list[dict]:
    """Median vocal-to-backing ratio and vocal LRA per genre over the training split."""
    train = [f for f in features if f["split"] == "train" and f["source"] != "raw"
             and f.get("vocal_to_backing_lu") is not None]
    groups: dict[str, list[dict]] = {}
    for f in train:
        groups.setdefault(f["genre"], []).append(f)
    rows = []

    def row(genre, items):
        lar = [f["vocal_to_backing_lu"] for f in items]
        lra = [f["vocal"]["loudness_range_lu"] for f in items
               if f["vocal"].get("loudness_range_lu") is not None]
        return {"genre": genre, "n_tracks": len(items),
                "vocal_to_backing_lu": float(np.median(lar)),
                "vocal_to_backing_lu_iqr": float(np.subtract(*np.percentile(lar, [75, 25]))),
                "vocal_lra_lu": float(np.median(lra)) if lra else None,
                "vocal_lra_lu_iqr": (float(np.subtract(*np.percentile(lra, [75, 25])))
                                     if lra else None)}

    for genre in sorted(groups):
        if genre == "unknown":
            continue  # tracks without a genre still count in the overall row
        rows.append(row(genre, groups[genre]))
    if train:
        rows.append(row(OVERALL, train))
    return rows


def read_genre_stats(path) -> dict[str, dict]:
    """genre -> {vocal_to_backing_lu, vocal_lra_lu, n_tracks}; includes the ``all`` row."""
    import csv

    out = {}
    with open(path, newline="") as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
        for r in csv.DictReader(lines, delimiter="\t"):
            out[r["genre"]] = {k: (float(v) if v not in ("", None) and k != "genre" else v)
                               for k, v in r.items()}
    if OVERALL not in out:
        raise ValueError(f"{path}: no '{OVERALL}' row (the overall median for unseen genres)")
    return out


def pyloudnorm_ratio(vocal_path: str, backing_path: str) -> float:
    """Vocal-to-backing ratio measured with pyloudnorm, independently of vocalmix's meter."""
    import pyloudnorm

    v, sr = read_audio(vocal_path)
    b, _ = read_audio(backing_path)
    meter = pyloudnorm.Meter(sr)
    return float(meter.integrated_loudness(v.T) - meter.integrated_loudness(b.T))


def truth_rows(features: list[dict], truths: dict[str, dict],
               stems: dict[str, tuple[str, str]] | None = None) -> list[dict]:
    """Measured features against the generator's ground truth.

    ``truth_vocal_to_backing_lu`` is the ratio the demo's chain was set to (genre prior plus
    backing density); ``pyloudnorm_vocal_to_backing_lu`` re-measures it with an independent
    implementation when ``stems`` (track -> vocal, backing paths) are given.
    """
    rows = []
    for f in features:
        t = truths.get(f["track_id"])
        if not t:
            continue
        tt = t["targets"]
        row = {"track_id": f["track_id"], "split": f["split"], "genre": f["genre"],
               "truth_vocal_to_backing_lu": t["professional"]["target_vocal_to_backing_lu"],
               "measured_vocal_to_backing_lu": f.get("vocal_to_backing_lu"),
               "truth_vocal_lra_lu": tt["vocal_lra_lu"],
               "measured_vocal_lra_lu": _get(f, "vocal", "loudness_range_lu")}
        row["error_vocal_to_backing_lu"] = row["measured_vocal_to_backing_lu"] - \
            row["truth_vocal_to_backing_lu"]
        if stems and f["track_id"] in stems:
            ref = pyloudnorm_ratio(*stems[f["track_id"]])
            row["pyloudnorm_vocal_to_backing_lu"] = ref
            row["pyloudnorm_error_lu"] = ref - row["truth_vocal_to_backing_lu"]
        row["error_vocal_lra_lu"] = (row["measured_vocal_lra_lu"] - row["truth_vocal_lra_lu"]
                                     if row["measured_vocal_lra_lu"] is not None else None)
        reverb = f.get("reverb") or {}
        room = t["professional"]["room"]
        true_t60 = float(np.mean([room["t60_s"][b] for b in ("500", "1000", "2000")]))
        fit = reverb.get("fitted")
        if fit:
            row["truth_t60_mid_s"] = true_t60
            row["fitted_t60_mid_s"] = fit["t60_mid_s"]
            row["error_t60_mid_pct"] = 100 * (fit["t60_mid_s"] / true_t60 - 1)
        blind = (reverb.get("blind_estimate") or {}).get("t60_mid_s")
        if blind:
            row["blind_t60_mid_s"] = blind
            row["blind_error_t60_mid_pct"] = 100 * (blind / true_t60 - 1)
        rows.append(row)
    return rows


def plot_distributions(rows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_vocal = [r for r in rows if r["vocal_to_backing_lu"] is not None]
    genres = sorted({r["genre"] for r in with_vocal})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in ((axes[0], "vocal_to_backing_lu", "vocal-to-backing ratio (LU)"),
                           (axes[1], "vocal_lra_lu", "vocal loudness range (LU)")):
        data = [[r[key] for r in with_vocal if r["genre"] == g and r[key] is not None]
                for g in genres]
        ax.boxplot(data, tick_labels=genres if genres else None)
        for i, d in enumerate(data, start=1):
            ax.scatter(np.full(len(d), i), d, s=12, alpha=0.6, color="tab:orange", zorder=3)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle("Ground-truth features by genre (all splits)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
