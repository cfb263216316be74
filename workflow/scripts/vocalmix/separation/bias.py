"""What source separation does to each training target, where the true stems are known.

The separated pairs (``source=separated``) give the models their targets and the genre table
(:func:`vocalmix.features.summary.genre_stats`) its levels. Measured on a separated pair
instead of the true one, each target may be biased; this module measures the targets on both
and their difference (estimate minus truth), as the features stage measures them:

* ``vocal_to_backing_lu`` -- integrated BS.1770 loudness of the vocal minus the backing's,
  each gated on its own (:func:`vocalmix.measure.loudness.analyse`), LU;
* ``vocal_lra_lu`` -- the vocal's EBU loudness range, LU;
* ``vocal_eq_<hz>hz_db`` -- the vocal's tonal balance: its long-term third-octave spectrum
  over its active frames (:func:`vocalmix.measure.spectrum.long_term_spectrum`, the same
  figures as the stage's ``eq_db``) reduced to the octave bands
  :data:`~vocalmix.measure.spectrum.OCTAVE_HZ` with their power mean removed
  (:func:`~vocalmix.measure.spectrum.octave_shape_db`, as the genre table does), dB;
* ``vocal_drr_db`` and ``vocal_t60_s`` -- the vocal's blind direct-to-reverberant ratio and
  mid-band T60 (:func:`vocalmix.measure.reverb_blind.estimate`: the same level curves as
  the stage's ``level_curves_file``, bit for bit). NaN where the estimate finds no free
  decay (short or dense excerpts). The genre table's ``vocal_t60_s`` is the reverb *fitted*
  to this blind estimate (a genetic search, not repeated here); the blind T60 is what that
  fit follows.

A bias row also has ``vocal_eq_rms_difference_db``: the RMS over the octave bands of the
estimated tonal balance minus the true one (a distance, never negative).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from vocalmix.measure import loudness, spectrum
from vocalmix.measure.reverb_blind import estimate

__all__ = ["TARGETS", "EQ_TARGETS", "EQ_RMS", "BIAS_MEASURES", "ROW_COLUMNS",
           "SUMMARY_COLUMNS", "target_values", "bias_row", "summarise_bias",
           "MIN_CALIBRATION_TRACKS", "CORRECTED_TARGETS", "CORRECTION_COLUMNS",
           "calibration_candidates", "corrections", "read_corrections"]

#: the vocal's tonal balance, one target per octave band
EQ_TARGETS = tuple(f"vocal_eq_{int(hz)}hz_db" for hz in spectrum.OCTAVE_HZ)
#: every target, in the order of the tables
TARGETS = ("vocal_to_backing_lu", "vocal_lra_lu", *EQ_TARGETS, "vocal_drr_db", "vocal_t60_s")
#: the RMS difference of the estimated and true tonal balance (dB)
EQ_RMS = "vocal_eq_rms_difference_db"
#: what :func:`summarise_bias` summarises: each target's bias, then the EQ distance
BIAS_MEASURES = (*TARGETS, EQ_RMS)
#: the columns of :func:`bias_row` (true, estimated, bias per target; the EQ distance)
ROW_COLUMNS = (*(f"{kind}_{t}" for t in TARGETS for kind in ("true", "est", "bias")), EQ_RMS)
#: the columns of :func:`summarise_bias` after the group keys
SUMMARY_COLUMNS = ("target", "n_tracks", "mean_true", "mean_est", "mean_bias", "sd_bias",
                   "mean_abs_bias")


def _finite_or_nan(value: float | None) -> float:
    return math.nan if value is None or not math.isfinite(value) else float(value)


def target_values(vocal: NDArray, backing: NDArray, rate: int) -> dict[str, float]:
    """The training targets of one vocal/backing pair, as the features stage measures them.

    Parameters
    ----------
    vocal, backing : np.ndarray [shape=(channels, samples)]
        The two signals at ``rate`` (float32 is measured without a copy; each at least one
        400 ms loudness block long).
    rate : int
        Sample rate in Hz.

    Returns
    -------
    dict
        :data:`TARGETS` -> value (float; NaN where undefined: a silent signal's loudness, a
        blind reverb estimate without a free decay).

    Raises
    ------
    vocalmix.audio.AudioError
        An array that is not ``(channels, samples)`` or shorter than a loudness block.
    """
    v = loudness.analyse(vocal, rate, name="vocal")
    b = loudness.analyse(backing, rate, name="backing")
    vbr = v.integrated_lufs - b.integrated_lufs
    out = {"vocal_to_backing_lu": _finite_or_nan(vbr),
           "vocal_lra_lu": _finite_or_nan(v.loudness_range_lu)}
    third = spectrum.long_term_spectrum(vocal, rate).bands_db
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = spectrum.octave_shape_db(third)
    out.update({key: _finite_or_nan(float(x)) for key, x in zip(EQ_TARGETS, shape)})
    blind = estimate(vocal, rate)
    out["vocal_drr_db"] = _finite_or_nan(blind.drr_db)
    out["vocal_t60_s"] = _finite_or_nan(blind.t60_mid_s)
    return out


def bias_row(true_pair: tuple[NDArray, NDArray], estimated_pair: tuple[NDArray, NDArray],
             rate: int) -> dict[str, float]:
    """True, estimated and estimated-minus-true value of every target of one track.

    Parameters
    ----------
    true_pair : (vocal, backing)
        The true stems, each ``(channels, samples)`` at ``rate``.
    estimated_pair : (vocal, backing)
        The separator's estimates of them, same layout.
    rate : int
        Sample rate in Hz.

    Returns
    -------
    dict
        :data:`ROW_COLUMNS`: ``true_<target>``, ``est_<target>`` and ``bias_<target>`` (est
        minus true, NaN where either is) for each of :data:`TARGETS`, and
        :data:`EQ_RMS`, the RMS over the octave bands of the tonal-balance bias (dB).
    """
    true = target_values(*true_pair, rate)
    est = target_values(*estimated_pair, rate)
    row: dict[str, float] = {}
    for t in TARGETS:
        row[f"true_{t}"], row[f"est_{t}"] = true[t], est[t]
        row[f"bias_{t}"] = est[t] - true[t]
    eq_bias = np.array([row[f"bias_{t}"] for t in EQ_TARGETS])
    row[EQ_RMS] = float(np.sqrt(np.mean(eq_bias ** 2)))
    return row


def _group_of(row: Mapping, keys: Sequence[str]) -> tuple:
    try:
        return tuple(row[k] for k in keys)
    except KeyError as exc:
        raise KeyError(f"bias row without the group key {exc.args[0]!r} (has "
                       f"{', '.join(map(str, row))})") from None


def _stats(values: Iterable[float]) -> dict[str, float | int]:
    v = np.array([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    return {"n_tracks": int(v.size),
            "mean_bias": float(v.mean()) if v.size else math.nan,
            "sd_bias": float(v.std(ddof=1)) if v.size > 1 else math.nan,
            "mean_abs_bias": float(np.abs(v).mean()) if v.size else math.nan}


def _mean(values: Iterable[float]) -> float:
    v = np.array([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan


def summarise_bias(rows: Sequence[Mapping], group_key: str | Sequence[str] = "dataset"
                   ) -> list[dict]:
    """Per group and measure: how many tracks have it, and the mean, standard deviation
    (n - 1) and mean absolute value of its bias.

    Parameters
    ----------
    rows : sequence of mapping
        :func:`bias_row` results with the group key(s) added (e.g. ``dataset``).
    group_key : str or sequence of str
        The column(s) to group by, e.g. ``("dataset", "split")``.

    Returns
    -------
    list of dict
        One per group (sorted) and measure (:data:`BIAS_MEASURES`, in order): the group
        keys, then :data:`SUMMARY_COLUMNS` -- ``target``; ``n_tracks`` (rows with a finite
        bias); ``mean_true`` and ``mean_est`` (NaN for :data:`EQ_RMS`); ``mean_bias``,
        ``sd_bias`` (NaN under 2 tracks) and ``mean_abs_bias``. For :data:`EQ_RMS` the
        "bias" is the per-track RMS difference itself.

    Raises
    ------
    KeyError
        A row without a group key.
    """
    keys = (group_key,) if isinstance(group_key, str) else tuple(group_key)
    groups: dict[tuple, list[Mapping]] = defaultdict(list)
    for r in rows:
        groups[_group_of(r, keys)].append(r)
    out = []
    for group in sorted(groups, key=lambda g: tuple(str(x) for x in g)):
        members = groups[group]
        for m in BIAS_MEASURES:
            column = m if m == EQ_RMS else f"bias_{m}"
            both = m != EQ_RMS
            out.append({**dict(zip(keys, group)), "target": m,
                        **_stats(r.get(column) for r in members),
                        "mean_true": _mean(r.get(f"true_{m}") for r in members) if both
                        else math.nan,
                        "mean_est": _mean(r.get(f"est_{m}") for r in members) if both
                        else math.nan})
    return out


# --------------------------------------------------------------------------- correction
#: calibration tracks a target needs before its mean bias is subtracted from separated songs
MIN_CALIBRATION_TRACKS = 3
#: the targets a correction applies to (the blind T60 is not what the genre table keeps)
CORRECTED_TARGETS = ("vocal_to_backing_lu", "vocal_lra_lu", *EQ_TARGETS, "vocal_drr_db")
#: ``correction.tsv``
CORRECTION_COLUMNS = ("target", "n_tracks", "mean_bias", "sd_bias", "applied", "reason")


def calibration_candidates(candidates: Sequence, *, synthetic_datasets: Iterable[str],
                           limit: int, seed: int) -> list:
    """The tracks separated to calibrate the separator: real (not synthetic) tracks of the
    training and validation splits with a processed vocal stem and a backing, at most
    ``limit`` of them in a seeded order. The demo's synthetic voices are left out on
    purpose: the separator misses much of them (vocal-to-backing bias about -5.5 LU on the
    demo, -0.7 LU on real previews; ``benchmarks/results/separation_bias_summary.csv``), so
    a correction learnt there would make real songs worse."""
    from vocalmix.seeding import derive_seed

    synthetic = set(synthetic_datasets)
    pool = [c for c in candidates
            if c.split in ("train", "valid") and c.dataset not in synthetic
            and c.source != "separated" and c.adapter != "separated" and c.layout == "stems"
            and "vocal" in c.files and "backing" in c.files]
    pool.sort(key=lambda c: derive_seed(seed, "calibration", c.track_id))
    return sorted(pool[:max(0, int(limit))], key=lambda c: c.track_id)


def corrections(rows: Sequence[Mapping], *,
                min_tracks: int = MIN_CALIBRATION_TRACKS) -> list[dict]:
    """Per target of :data:`CORRECTED_TARGETS`: the mean bias over the calibration rows
    (:func:`bias_row` results of :func:`calibration_candidates`), and whether it is applied
    (at least ``min_tracks`` tracks with a finite bias)."""
    out = []
    for t in CORRECTED_TARGETS:
        v = np.array([float(r[f"bias_{t}"]) for r in rows
                      if r.get(f"bias_{t}") not in (None, "")], dtype=float)
        v = v[np.isfinite(v)]
        ok = v.size >= min_tracks
        out.append({"target": t, "n_tracks": int(v.size),
                    "mean_bias": float(v.mean()) if v.size else math.nan,
                    "sd_bias": float(v.std(ddof=1)) if v.size > 1 else math.nan,
                    "applied": "yes" if ok else "no",
                    "reason": (f"mean over {v.size} real calibration tracks" if ok else
                               f"{v.size} real calibration track(s) with true stems outside "
                               f"the test split; {min_tracks} needed")})
    return out


def read_corrections(path) -> dict[str, float]:
    """``correction.tsv`` -> target -> the bias to subtract from a separated song's value
    (applied targets only)."""
    import csv

    with open(path, newline="") as fh:
        return {r["target"]: float(r["mean_bias"]) for r in csv.DictReader(fh, delimiter="\t")
                if r.get("applied") == "yes"}
