"""Held-out comparison of the mixing decisions (rule ``evaluate_models``).

The restoration protocol on every test-split track with a processed vocal: the input is
corrupted version 0 of the processed vocal (from the corruption stage) with the backing;
the reference is the original. Each system mixes the input with the shared chain and its
result is measured against the original's ground-truth features (a song longer than
``mixing.analysis_s`` is mixed and measured on its analysis window around the listening
test's excerpt, as the render stage mixes it: :func:`evaluate_track`):
==============  ==========================================================  =========
target          metric                                                      unit
==============  ==========================================================  =========
level           absolute error of the vocal-to-backing loudness ratio       LU
eq              RMS difference of the vocal's third-octave shape after the   dB
                system's high-pass and EQ from the original's (dereverberated
                as in the corruption), over the bands 100 Hz - 10 kHz within
                30 dB of the original's loudest (shapes: curves minus their
                mean level)
compression     absolute error of the vocal's EBU loudness range            LU
reverb          absolute relative error of the reverb's mid-band T60        %
==============  ==========================================================  =========

Systems: ``data_driven`` (the trained models), ``rule_based`` (the genre table and rules)
and ``no_processing`` (the corrupted vocal summed as it is; for reverb, the blind estimate
of its remaining reverberation). Writes ``per_track.tsv`` and ``summary.tsv`` (dataset,
target, metric, unit, one column per system with the mean over tracks -- the median for
reverb -- and n).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np

from vocalmix.dsp.effects import apply_eq, apply_highpass
from vocalmix.files import save_figure
from vocalmix.measure import loudness
from vocalmix.features.blind_levels import level_curves_file
from vocalmix.measure.reverb_blind import estimate_from_levels
from vocalmix.measure.spectrum import THIRD_OCTAVE_HZ, curve_difference_db, long_term_spectrum

if TYPE_CHECKING:
    from vocalmix.mixing.base import MixingSettings

log = logging.getLogger(__name__)

__all__ = ["evaluate_track", "summarise", "SYSTEMS"]

SYSTEMS = ("data_driven", "rule_based", "no_processing")
VOICE = (THIRD_OCTAVE_HZ >= 100.0) & (THIRD_OCTAVE_HZ <= 10000.0)


def _shape_rms(shape: np.ndarray, truth: np.ndarray, range_db: float | None = 30.0) -> float:
    return curve_difference_db(shape, truth, range_db=range_db)


def _measure(vocal_stem, backing_stem, sr, *, vocal_weights=None) -> dict:
    """Ratio, loudness range and spectral shape of a vocal stem over a backing stem.
    ``vocal_weights``: BS.1770 channel weights of the vocal (``[2.0]``: a mono vocal measured
    as the stereo stem that repeats it in both channels, without making that copy)."""
    v = loudness.analyse(vocal_stem, sr, weights=vocal_weights)
    return {"ratio": v.integrated_lufs - loudness.integrated_loudness(backing_stem, sr),
            "lra": v.loudness_range_lu,
            "shape": long_term_spectrum(vocal_stem, sr).shape_db}


def _eq_stage(vocal, sr, highpass_hz, eq) -> np.ndarray:
    x = apply_highpass(vocal, sr, highpass_hz) if highpass_hz else vocal
    return apply_eq(x, sr, list(eq))


def evaluate_track(row: dict, features: dict, corrupted: str, *, models: dict,
                   genre_stats: dict, dereverberated: str | None = None,
                   mixing: MixingSettings | None = None,
                   hop_s: float | None = None,
                   window: tuple[int, int] | None = None) -> list[dict]:
    """Per-system errors for one track. The mixing systems come from
    :func:`vocalmix.mixing.registry.get_mixer`: ``models``, ``mixing`` (None: the schema's
    defaults) and ``hop_s`` (the analysis hop; None: the models' own) for the data-driven
    one, ``genre_stats`` and the track's genre for the rule-based one.

    ``window`` (first sample, samples; :func:`vocalmix.evaluation.render.analysis_window`):
    the systems mix that part of the song only, and every system's result and the EQ
    reference are measured over it (read alone: memory does not grow with the song); the
    truth stays the whole song's features, the conventions the systems aim at."""
    from vocalmix.audio import audio_info
    from vocalmix.evaluation.render import read_window
    from vocalmix.mixing.base import MixContext, MixingSettings

    mixing = MixingSettings() if mixing is None else mixing

    sr = int(audio_info(corrupted)["sample_rate"])
    vocal = read_window(corrupted, sr, window)
    backing = read_window(row["backing"], sr, window)
    truth = {"ratio": features["vocal_to_backing_lu"],
             "lra": features["vocal"]["loudness_range_lu"],
             "shape": np.array([np.nan if v is None else v
                                for v in features["vocal"]["eq_shape_db"]], dtype=float),
             "t60": ((features.get("reverb") or {}).get("fitted") or {}).get("t60_mid_s")}
    # the EQ reference: the original with its reverb removed as in the corruption (the
    # corrupted input is this, EQ'd and expanded), so only the EQ decision is judged
    ref_shape = (long_term_spectrum(read_window(dereverberated, sr, window), sr).shape_db
                 if dereverberated else truth["shape"])
    out = []
    if "genre_resolved_source" in row:  # resolved by the predict_genres stage
        genre, genre_source = row.get("genre_resolved"), row["genre_resolved_source"]
    else:
        genre = row.get("genre") if row.get("genre") not in (None, "unknown") else None
        genre_source = "metadata" if genre else "average"
    context = MixContext(genre=genre, genre_source=genre_source, genre_stats=genre_stats,
                         models=models, smooth_windows=int(mixing.smooth_windows), hop_s=hop_s)
    for system in SYSTEMS:
        # one system's arrays at a time: what a system made is gone before the next runs
        m, t60, eq_shape = _system_measures(system, vocal, backing, sr, context, corrupted)
        rec = {"track_id": row["track_id"], "dataset": row["dataset"], "genre": row["genre"],
               "system": system,
               "level_error_lu": abs(m["ratio"] - truth["ratio"]),
               "eq_curve_rms_db": _shape_rms(eq_shape, ref_shape),
               "wet_curve_rms_db": _shape_rms(m["shape"], truth["shape"]),
               "lra_error_lu": abs(m["lra"] - truth["lra"]) if truth["lra"] is not None
               else math.nan,
               "t60_error_pct": (100 * abs(t60 / truth["t60"] - 1) if t60 and truth["t60"]
                                 else math.nan),
               "ratio_lu": m["ratio"], "truth_ratio_lu": truth["ratio"], "lra_lu": m["lra"],
               "truth_lra_lu": truth["lra"], "t60_s": t60, "truth_t60_s": truth["t60"]}
        out.append(rec)
    return out


def _system_measures(system: str, vocal: np.ndarray, backing: np.ndarray, sr: int,
                     context, vocal_path: str) -> tuple[dict, float | None, np.ndarray]:
    """One system's measures on one track (:func:`_measure`, the reverb's T60, the shape of
    the vocal after the system's EQ stage); the arrays it makes live only in here.
    ``vocal_path``: the file ``vocal`` was read from."""
    from vocalmix.features.reverb_fit import evaluate as reverb_descriptors
    from vocalmix.mixing.registry import get_mixer

    if system == "no_processing":
        # the corrupted vocal summed as it is: a mono vocal is both channels of the stem
        mono = vocal.shape[0] == 1
        m = _measure(vocal, backing, sr, vocal_weights=[2.0] if mono else None)
        # the blind estimate of its reverb from level curves streamed from its file (those
        # of the whole array bit for bit, without the whole song's float64 filter passes)
        t60 = estimate_from_levels(*level_curves_file(vocal_path, sr)).t60_mid_s
        return m, t60, long_term_spectrum(vocal, sr).shape_db
    choice = get_mixer(system).choose(vocal, backing, sr, context)
    recipe, corr = choice.recipe, choice.pitch_corrected
    res = choice.render(vocal, backing, sr)
    del choice  # with it, the vocal branch the system rendered
    stems = res.vocal, res.backing
    del res  # with it, the mix
    m = _measure(*stems, sr)
    del stems
    t60 = (reverb_descriptors(recipe.vocal.reverb, sr).t60_mid_s
           if recipe.vocal.reverb is not None else None)
    eq_shape = long_term_spectrum(_eq_stage(corr if corr is not None else vocal, sr,
                                            recipe.vocal.highpass_hz, recipe.vocal.eq),
                                  sr).shape_db
    return m, t60, eq_shape


METRICS = (("level", "level_error_lu", "mean absolute error", "LU", "mean"),
           ("eq", "eq_curve_rms_db", "RMS third-octave curve difference", "dB", "mean"),
           ("compression", "lra_error_lu", "mean absolute LRA error", "LU", "mean"),
           ("reverb", "t60_error_pct", "median absolute mid-band T60 error", "%", "median"))


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for dataset in sorted({r["dataset"] for r in rows}):
        sub = [r for r in rows if r["dataset"] == dataset]
        for target, key, metric, unit, stat in METRICS:
            rec = {"dataset": dataset, "target": target, "metric": metric, "unit": unit}
            for system in SYSTEMS:
                vals = [r[key] for r in sub if r["system"] == system
                        and r[key] is not None and math.isfinite(r[key])]
                rec[system] = (float(np.median(vals)) if stat == "median" else
                               float(np.mean(vals))) if vals else None
            rec["n_tracks"] = len({r["track_id"] for r in sub})
            out.append(rec)
    return out


def plot_summary(rows: list[dict], path) -> None:
    """Per-track errors of each system, one panel per target (dots: tracks, bar: mean or
    median as in the summary)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 3.4))
    colours = {"data_driven": "tab:blue", "rule_based": "tab:orange", "no_processing": "0.5"}
    for ax, (target, key, metric, unit, stat) in zip(axes, METRICS):
        for i, system in enumerate(SYSTEMS):
            vals = np.array([r[key] for r in rows if r["system"] == system
                             and r[key] is not None and math.isfinite(r[key])], dtype=float)
            if not vals.size:
                continue
            centre = np.median(vals) if stat == "median" else np.mean(vals)
            ax.bar(i, centre, color=colours[system], alpha=0.35, width=0.7)
            jitter = np.linspace(-0.2, 0.2, vals.size) if vals.size > 1 else np.zeros(1)
            ax.plot(i + jitter, vals, "o", ms=3, color=colours[system])
        ax.set_xticks(range(len(SYSTEMS)), [s.replace("_", "\n") for s in SYSTEMS], fontsize=8)
        ax.set_title(f"{target} ({stat})", fontsize=9)
        ax.set_ylabel(f"{metric} ({unit})", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("held-out restoration errors per test track (lower is better)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
