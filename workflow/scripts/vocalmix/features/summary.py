"""Corpus-level feature tables (rule ``summarise_features``).

* ``summary.tsv``: one row per track with its headline features.
* ``genre_stats.tsv``: per genre, from the *training* split's processed vocals only (real
  songs alone where a genre has enough of them, see :func:`genre_stats`), the
  median vocal-to-backing loudness ratio, vocal loudness range, vocal wetness (blind DRR,
  fitted T60) and vocal tonal balance (octave bands), with counts and spreads, plus one
  ``all`` row (the overall median) used for genres that are not in the table
  (proposal IV.A.1: "for genres that are not included, the ratio will be set to the
  average value of the analysis").
* ``truth_check.tsv``: for tracks with generator ground truth (the demo), measured versus
  recorded values and their errors.
* ``feature_distributions.png``: vocal-to-backing ratio and vocal LRA by genre.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import read_audio
from vocalmix.layout import SEPARATED_DATASET
from vocalmix.measure.spectrum import OCTAVE_HZ, octave_shape_db


log = logging.getLogger(__name__)

__all__ = ["summary_rows", "genre_stats", "truth_rows", "read_genre_stats", "eq_column",
           "target_shape_db", "is_real", "MIN_REAL_SONGS", "TEXT_COLUMNS"]

OVERALL = "all"
#: the genre table's columns that are text, not numbers
TEXT_COLUMNS = ("genre", "row_source")


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


def eq_column(band_hz: float, stat: str = "median") -> str:
    """The genre table's column of the target tonal balance in one octave band: its median
    (``vocal_eq_<hz>hz_db``) or interquartile range (``vocal_eq_<hz>hz_iqr_db``)."""
    return f"vocal_eq_{int(band_hz)}hz_db" if stat == "median" else \
        f"vocal_eq_{int(band_hz)}hz_{stat}_db"


def target_shape_db(row: dict) -> tuple[NDArray, NDArray] | None:
    """The target tonal balance of a genre-table row: (median, interquartile range), dB
    per :data:`OCTAVE_HZ` band (the median's power mean is about 0); None where the row has
    no curve (an older or hand-made table). A band without a value is NaN."""
    def column(stat: str) -> NDArray:
        return np.array([np.nan if row.get(eq_column(hz, stat)) in (None, "")
                         else float(row[eq_column(hz, stat)]) for hz in OCTAVE_HZ])

    shape, iqr = column("median"), column("iqr")
    return (shape, iqr) if np.any(np.isfinite(shape)) else None


#: songs of a genre from real recordings (not a synthetic dataset) from which its row is
#: measured on them alone (config ``features.min_real_songs``)
MIN_REAL_SONGS = 3


def is_real(feats: dict, synthetic_datasets: Iterable[str]) -> bool:
    """Whether a track comes from real recordings: any dataset but a synthetic one (the
    demo generator's), separated finished songs included."""
    return feats.get("dataset") not in set(synthetic_datasets)


def genre_stats(features: list[dict], *, synthetic_datasets: Iterable[str] = (),
                min_real_songs: int = MIN_REAL_SONGS,
                separation_bias: Mapping[str, float] | None = None,
                priors: Mapping[str, Mapping] | None = None) -> list[dict]:
    """Per genre, over the training split's processed vocals, the median (and interquartile
    range) of: the vocal-to-backing ratio, the vocal's loudness range, its blind DRR
    (:mod:`vocalmix.measure.reverb_blind`) and the T60 of the reverb fitted to it, and its
    tonal balance (octave bands 125 Hz - 8 kHz of its long-term spectrum, the power mean
    removed: columns ``vocal_eq_<hz>hz_db`` and ``vocal_eq_<hz>hz_iqr_db``).

    Real songs take precedence over synthetic ones: a genre with at least
    ``min_real_songs`` real training songs (tracks of any dataset not named in
    ``synthetic_datasets``, separated finished songs included) is measured on those alone
    (``row_source`` ``real``); any other genre on all its training songs (``corpus``). The
    overall row likewise. ``n_tracks`` counts a genre's training songs, ``n_real`` the real
    ones among them.

    A genre whose training songs are all real but fewer than ``min_real_songs`` takes its
    row from ``priors`` (the packaged table of published figures,
    ``vocalmix/data/genre_stats_default.tsv``) where that has the genre (``row_source``
    ``prior``): one or two songs are a weaker estimate than the published one.

    ``separation_bias`` (target -> mean bias of the separator, estimate minus truth, from
    ``results/separated/correction.tsv``; keys ``vocal_to_backing_lu``, ``vocal_lra_lu``,
    ``vocal_drr_db``, ``vocal_eq_<hz>hz_db``) is subtracted from the values of the separated
    finished songs (dataset ``separated``) before the medians.
    """
    synthetic = set(synthetic_datasets)
    corr = dict(separation_bias or {})

    def value(f: dict, key: str, v):
        """A song's value of a target, corrected for the separator's bias where separated."""
        if v is None or f.get("dataset") != SEPARATED_DATASET or key not in corr:
            return v
        return v - corr[key]
    train = [f for f in features if f["split"] == "train" and f["source"] != "raw"
             and f.get("vocal_to_backing_lu") is not None]
    groups: dict[str, list[dict]] = {}
    for f in train:
        groups.setdefault(f["genre"], []).append(f)
    rows = []

    def median_iqr(values: list) -> tuple[float | None, float | None]:
        v = np.array([x for x in values if x is not None], dtype=float)
        v = v[np.isfinite(v)]
        if not v.size:
            return None, None
        return float(np.median(v)), float(np.subtract(*np.percentile(v, [75, 25])))

    def row(genre, songs):
        real = [f for f in songs if is_real(f, synthetic)]
        items = real if len(real) >= min_real_songs else songs
        lar, lar_iqr = median_iqr([value(f, "vocal_to_backing_lu", f["vocal_to_backing_lu"])
                                   for f in items])
        lra, lra_iqr = median_iqr([value(f, "vocal_lra_lu", f["vocal"].get("loudness_range_lu"))
                                   for f in items])
        drr, drr_iqr = median_iqr([value(f, "vocal_drr_db", (
            (f.get("reverb") or {}).get("blind_estimate") or {}).get("drr_db")) for f in items])
        t60, t60_iqr = median_iqr([((f.get("reverb") or {}).get("fitted") or {})
                                   .get("t60_mid_s") for f in items])
        out = {"genre": genre, "n_tracks": len(songs), "n_real": len(real),
               "row_source": "real" if items is real else "corpus",
               "vocal_to_backing_lu": lar, "vocal_to_backing_lu_iqr": lar_iqr,
               "vocal_lra_lu": lra, "vocal_lra_lu_iqr": lra_iqr,
               "vocal_drr_db": drr, "vocal_drr_db_iqr": drr_iqr,
               "vocal_t60_s": t60, "vocal_t60_s_iqr": t60_iqr}
        shapes = np.array([octave_shape_db(np.asarray(f["vocal"]["eq_db"], dtype=float))
                           + np.array([value(f, eq_column(hz), 0.0) for hz in OCTAVE_HZ])
                           for f in items if f["vocal"].get("eq_db") is not None])
        shapes = shapes[np.all(np.isfinite(shapes), axis=1)] if shapes.size else shapes
        for k, hz in enumerate(OCTAVE_HZ):
            med, iqr = median_iqr(list(shapes[:, k])) if len(shapes) else (None, None)
            out[eq_column(hz)], out[eq_column(hz, "iqr")] = med, iqr
        return out

    for genre in sorted(groups):
        if genre == "unknown":
            continue  # tracks without a genre still count in the overall row
        songs = groups[genre]
        n_real = sum(is_real(f, synthetic) for f in songs)
        if priors and genre in priors and n_real == len(songs) < min_real_songs:
            rows.append({**priors[genre], "genre": genre, "n_tracks": len(songs),
                         "n_real": n_real, "row_source": "prior"})
        else:
            rows.append(row(genre, songs))
    if not train:
        return rows
    rows.append(row(OVERALL, train))
    columns = list(rows[-1])  # a prior row has the measured rows' columns, the rest empty
    return [{k: r.get(k) for k in columns} for r in rows]


def read_genre_stats(path) -> dict[str, dict]:
    """genre -> {vocal_to_backing_lu, vocal_lra_lu, n_tracks, ...}; includes the ``all``
    row. Numbers are floats; the text columns (:data:`TEXT_COLUMNS`: the genre, where the
    row's values come from) stay text."""
    import csv

    out = {}
    with open(path, newline="") as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
        for r in csv.DictReader(lines, delimiter="\t"):
            out[r["genre"]] = {k: (float(v) if v not in ("", None) and k not in TEXT_COLUMNS
                                   else v) for k, v in r.items()}
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


def plot_distributions(rows: list[dict], path, *, synthetic_datasets: Iterable[str] = (),
                       stats: list[dict] | None = None) -> None:
    """Vocal-to-backing ratio and vocal LRA by genre (all splits): a box per genre, each
    song a dot (real recordings orange, separated finished songs red, synthetic songs grey),
    and where ``stats`` (the genre table) is given its row's value as a black bar labelled
    with the row's source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    synthetic = set(synthetic_datasets)
    with_vocal = [r for r in rows if r["vocal_to_backing_lu"] is not None]
    genres = sorted({r["genre"] for r in with_vocal})
    table = {s["genre"]: s for s in stats or []}
    fig, axes = plt.subplots(1, 2, figsize=(max(10.0, 1.1 * len(genres) + 4), 4.2))
    kinds = (("synthetic", "0.6"), ("real", "tab:orange"), ("separated", "tab:red"))

    def kind(r: dict) -> str:
        if r.get("dataset") == SEPARATED_DATASET:
            return "separated"
        return "synthetic" if r.get("dataset") in synthetic else "real"

    for ax, key, label in ((axes[0], "vocal_to_backing_lu", "vocal-to-backing ratio (LU)"),
                           (axes[1], "vocal_lra_lu", "vocal loudness range (LU)")):
        data = [[r[key] for r in with_vocal if r["genre"] == g and r[key] is not None]
                for g in genres]
        ax.boxplot(data, tick_labels=genres if genres else None, showfliers=False)
        for name, colour in kinds:
            for i, g in enumerate(genres, start=1):
                d = [r[key] for r in with_vocal if r["genre"] == g and r[key] is not None
                     and kind(r) == name]
                if d:
                    ax.scatter(np.full(len(d), i), d, s=14, alpha=0.7, color=colour,
                               zorder=3, label=name)
            for i, g in enumerate(genres, start=1):
                row = table.get(g)
                if name == "synthetic" and row and row.get(key) is not None:
                    ax.hlines(row[key], i - 0.35, i + 0.35, color="k", lw=2, zorder=4)
                    ax.annotate(row.get("row_source", ""), (i, row[key]), fontsize=7,
                                xytext=(0, 4), textcoords="offset points", ha="center")
        ax.set_ylabel(label)
        ax.tick_params(axis="x", rotation=30)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    if seen:
        axes[0].legend(seen.values(), seen.keys(), fontsize=7, loc="best")
    fig.suptitle("Ground-truth features by genre (all splits); bars: the genre table's rows")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
