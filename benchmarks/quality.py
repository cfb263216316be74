"""Model study: the objective metrics of the mixing systems on one split of the corpus.

Renders the professional reference and each chosen condition of every track of a split, in
memory, exactly as the pipeline's ``render`` rule does for the test split (the systems' input
vocal of ``render.system_input``, the whole song mixed, the excerpt of the ``excerpt`` rule
cut, loudness-normalised for listening, the stems given the same gain, mix and stems at 24
bits as the render files hold them), then compares each condition with the reference as the
``evaluate_track`` rule does (``vocalmix.evaluation.objective.compare``, the reverb T60 fitted
with the rule's seed and settings unless ``--no-t60``). Nothing is written but the two CSVs:
``results/`` is only read.

By default it evaluates the *validation* split: design choices are made there, never on the
test split. ``--split test`` gives the pipeline's own numbers (``--check
results/evaluation/per_track.tsv`` compares them with the pipeline's table, metric by
metric), so that a change to a mixer can be judged in about a minute without rerunning the
pipeline. Parameters come from ``--config`` (schema defaults filled in) as the rules pass
them: ``render``, ``listening`` (loudness and true-peak ceiling), ``sample_rate``,
``mixing.smooth_windows``, ``features.hop_s``, ``features.reverb``, ``seed``,
``separation``. The genre the rule-based mixer uses is ``genre_resolved`` of
``results/corpus/genres.tsv``; the other conditions record the track's metadata genre (the
``genre`` column follows the pipeline's ``per_track.tsv``).

The mix loudness error (``loudness_error_lu``, where ``objective.METRICS`` has it) compares
the excerpts' loudness before the listening normalisation, as the render JSON's
``unnormalised_lufs`` records it; every other metric compares the normalised stimuli.

Writes ``--out`` (default ``benchmarks/results/quality_<split>.csv``): one row per track and
condition (``track, dataset, genre, condition``, every metric of ``objective.METRICS``,
``balance_lu, vocal_lra_lu, t60_s, unnormalised_lufs``), and beside it
``quality_<split>_summary.csv`` (``condition, metric, mean, median, n`` over finite values).
Prints per condition the mean of every metric and the win counts of the project's targets
(a condition beats another on a metric when its mean is lower; lower is better for every
metric; "K of N": N metrics with both means finite). Single process and deterministic: the
numerical libraries run on one thread, as the pipeline's jobs do (``threads: 1``).

Measured on the default demo (2 cores, shared): the 6 validation songs in 16-25 s of wall
time (15-18 s of CPU) with the T60 fits, 13-21 s (13 s of CPU) without; ``--split test``
with all five conditions (38-48 s) reproduced the pipeline's renders sample for sample and
its ``per_track.tsv`` to its 4 decimals, T60 included.

    .venv/bin/python benchmarks/quality.py [--split valid] [--results results]
        [--config config.yaml] [--conditions unprocessed,rule_based,data_driven] [--no-t60]
        [--tracks ID,...] [--out CSV] [--models DIR] [--genre-stats TSV] [--check TSV]
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before numpy: one thread, as Snakemake runs a threads: 1 job
    for _var in ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                 "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse
import csv
import io
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from vocalmix.conditions import CONDITIONS, REFERENCE
from vocalmix.evaluation.objective import METRICS

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
DEFAULT_CONDITIONS = ("unprocessed", "rule_based", "data_driven")
#: The metric columns, in ``objective.METRICS`` order (lower is better for each).
METRIC_NAMES: tuple[str, ...] = tuple(m for m, _, _ in METRICS)
#: The measurements behind the metrics, kept beside them (``unnormalised_lufs``: the mix's
#: loudness before the listening normalisation, where ``compare`` reports it).
EXTRA_COLUMNS = ("balance_lu", "vocal_lra_lu", "t60_s", "unnormalised_lufs")
COLUMNS = ("track", "dataset", "genre", "condition", *METRIC_NAMES, *EXTRA_COLUMNS)
SUMMARY_COLUMNS = ("condition", "metric", "mean", "median", "n")
#: (better, worse): the comparisons the project's targets count, by mean.
TARGET_PAIRS = (("data_driven", "rule_based"), ("rule_based", "unprocessed"))
#: Short headers of the printed table.
SHORT = {"loudness_error_lu": "loudness", "balance_error_lu": "balance", "lra_error_lu": "lra",
         "mel_distance_db": "mel_db", "centroid_error_hz": "centroid",
         "mrstft_distance": "mrstft", "t60_error_pct": "t60_pct"}

log = logging.getLogger("quality")


# ------------------------------------------------------------------------- pure helpers
def summary_rows(rows: Sequence[Mapping[str, Any]],
                 metrics: Sequence[str] = METRIC_NAMES) -> list[dict]:
    """``condition, metric, mean, median, n`` of every condition in ``rows`` and metric.

    Parameters
    ----------
    rows
        Per-track rows with ``condition`` and the ``metrics`` columns (NaN, None or absent:
        not measured).
    metrics
        The metric columns summarised, in output order.

    Returns
    -------
    list of dict
        Conditions in the pipeline's order (:data:`CONDITIONS`; others after them, as they
        first appear), then metrics in ``metrics`` order; ``mean`` and ``median`` over the
        finite values, None where there is none (``n`` 0).
    """
    present = list(dict.fromkeys(r["condition"] for r in rows))
    order = [c for c in CONDITIONS if c in present] + [c for c in present
                                                        if c not in CONDITIONS]
    out = []
    for c in order:
        for m in metrics:
            v = np.array([_number(r.get(m)) for r in rows if r["condition"] == c], dtype=float)
            v = v[np.isfinite(v)]
            out.append({"condition": c, "metric": m,
                        "mean": float(v.mean()) if v.size else None,
                        "median": float(np.median(v)) if v.size else None, "n": int(v.size)})
    return out


def condition_means(summary: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """condition -> metric -> mean (NaN where no value was finite) of :func:`summary_rows`."""
    out: dict[str, dict[str, float]] = {}
    for s in summary:
        mean = s["mean"]
        out.setdefault(s["condition"], {})[s["metric"]] = (math.nan if mean is None
                                                           else float(mean))
    return out


def win_count(means: Mapping[str, Mapping[str, float]], better: str, worse: str,
              metrics: Sequence[str] = METRIC_NAMES) -> tuple[int, int]:
    """On how many ``metrics`` condition ``better`` has a lower mean than ``worse``.

    Parameters
    ----------
    means
        condition -> metric -> mean (:func:`condition_means`).
    better, worse
        The two conditions compared.
    metrics
        The metrics counted; lower is better for each.

    Returns
    -------
    (wins, compared)
        ``wins``: metrics where ``better``'s mean is strictly lower; ``compared``: metrics
        where both means are finite (a tie or a NaN is no win).
    """
    wins = compared = 0
    for m in metrics:
        a = means.get(better, {}).get(m, math.nan)
        b = means.get(worse, {}).get(m, math.nan)
        if math.isfinite(a) and math.isfinite(b):
            compared += 1
            wins += int(a < b)
    return wins, compared


def win_lines(means: Mapping[str, Mapping[str, float]],
              pairs: Sequence[tuple[str, str]] = TARGET_PAIRS,
              metrics: Sequence[str] = METRIC_NAMES) -> list[str]:
    """"A beats B on K of N metrics (by mean)" for each pair whose conditions are both in
    ``means``; N is the number of metrics with both means finite (6 with T60)."""
    lines = []
    for better, worse in pairs:
        if better in means and worse in means:
            k, n = win_count(means, better, worse, metrics)
            lines.append(f"{better} beats {worse} on {k} of {n} metrics (by mean)")
    return lines


def format_table(means: Mapping[str, Mapping[str, float]],
                 metrics: Sequence[str] = METRIC_NAMES) -> str:
    """The mean of every metric per condition (rows in the pipeline's condition order), as
    fixed-width text."""
    head = f"{'condition':<13}" + "".join(f"{SHORT.get(m, m):>10}" for m in metrics)
    lines = [head]
    for c in [c for c in CONDITIONS if c in means] + [c for c in means if c not in CONDITIONS]:
        cells = []
        for m in metrics:
            v = means[c].get(m, math.nan)
            cells.append(f"{v:>10.3f}" if math.isfinite(v) else f"{'-':>10}")
        lines.append(f"{c:<13}" + "".join(cells))
    return "\n".join(lines)


def select_rows(manifest: Iterable[Mapping[str, Any]], split: str,
                tracks: Sequence[str] | None = None) -> list[dict]:
    """The manifest rows of ``split`` that can be evaluated: a backing and a processed vocal
    (its mixture is the professional reference and its corrupted version the systems'
    input); ``tracks`` keeps only those ids (an id not in the split is an error)."""
    rows = [dict(r) for r in manifest
            if r.get("split") == split and r.get("backing") and r.get("vocal")]
    if tracks:
        have = {r["track_id"] for r in rows}
        missing = [t for t in tracks if t not in have]
        if missing:
            raise SystemExit(f"not in split {split!r} with a processed vocal and backing: "
                             f"{', '.join(missing)}")
        rows = [r for r in rows if r["track_id"] in set(tracks)]
    return rows


def check_against(rows: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]],
                  columns: Sequence[str] = (*METRIC_NAMES, *EXTRA_COLUMNS)
                  ) -> dict[str, dict | None]:
    """Per column, the largest absolute difference of ``rows`` from ``reference`` (rows of
    the pipeline's ``per_track.tsv``) over the (track, condition) pairs both have.

    Returns
    -------
    dict
        column -> ``{"max_abs": float, "at": (track, condition) or None, "n": pairs with
        both values finite, "nan_mismatch": pairs finite in one table only}``; None for a
        column the reference table does not have (written by an older pipeline).
    """
    ref = {(r["track"], r["condition"]): r for r in reference}
    out: dict[str, dict | None] = {}
    for col in columns:
        if not any(col in r for r in reference):
            out[col] = None
            continue
        worst, at, n, mismatch = 0.0, None, 0, 0
        for r in rows:
            key = (r["track"], r["condition"])
            if key not in ref:
                continue
            a, b = _number(r.get(col)), _number(ref[key].get(col))
            if math.isfinite(a) and math.isfinite(b):
                n += 1
                if at is None or abs(a - b) > worst:
                    worst, at = abs(a - b), key
            elif math.isfinite(a) != math.isfinite(b):
                mismatch += 1
        out[col] = {"max_abs": worst, "at": at, "n": n, "nan_mismatch": mismatch}
    return out


def _number(v: Any) -> float:
    if v is None or v == "":
        return math.nan
    return float(v)


# ------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class Study:
    """Everything the renders and the evaluation take from the config and ``results/``.

    Attributes
    ----------
    workdir
        The pipeline's working directory (the folder holding ``results/``): the manifest's
        relative paths and the ``render`` path patterns are relative to it.
    """

    workdir: Path
    results: Path
    sample_rate: int
    seed: int
    render: Any  # RenderSettings
    level: Any  # LevelSettings
    smooth_windows: int
    hop_s: float
    reverb: dict
    separation: dict
    genres: dict
    genre_stats: dict | None
    models: dict | None

    def path(self, p: str | None) -> str | None:
        """``p`` as the pipeline's jobs see it (relative to :attr:`workdir`)."""
        if p is None:
            return None
        return str(p) if Path(p).is_absolute() else str(self.workdir / p)


def load_study(config_path: Path, results: Path, conditions: Sequence[str], *,
               models_dir: Path | None, genre_stats_path: Path | None) -> tuple[Study, list]:
    """The :class:`Study` and the manifest rows (paths as stored)."""
    from vocalmix.config import load_config
    from vocalmix.corpus.manifest import read_manifest
    from vocalmix.evaluation.render import LevelSettings, RenderSettings
    from vocalmix.models.genre import read_genres

    config = load_config(config_path)
    manifest = read_manifest(results / "corpus" / "tracks.tsv")
    genre_stats = models = None
    if "rule_based" in conditions:
        from vocalmix.features.summary import read_genre_stats

        genre_stats = read_genre_stats(genre_stats_path or results / "features" /
                                       "genre_stats.tsv")
    if "data_driven" in conditions:
        from vocalmix.mixing.data_driven import load_models

        models = load_models(models_dir or results / "models")
    listening = config["listening"]
    study = Study(
        workdir=results.resolve().parent,
        results=results.resolve(),
        sample_rate=int(config["sample_rate"]),
        seed=int(config["seed"]),
        render=RenderSettings.from_mapping(config["render"]),
        level=LevelSettings.from_mapping({k: listening[k] for k in ("loudness_lufs",
                                                                    "true_peak_dbtp")}),
        smooth_windows=int(config["mixing"]["smooth_windows"]),
        hop_s=float(config["features"]["hop_s"]),
        reverb=dict(config["features"]["reverb"]),
        separation=dict(config["separation"]),
        genres=read_genres(results / "corpus" / "genres.tsv"),
        genre_stats=genre_stats,
        models=models,
    )
    return study, manifest


# ------------------------------------------------------------------------------- renders
def _as_written(x, sample_rate: int, fmt: str):
    """``x`` (channels, samples) as the render stage's 24-bit file reads back (``fmt``
    WAV for the mix, FLAC for the stems), through an in-memory file."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(x, dtype=np.float32).T, int(sample_rate), subtype="PCM_24",
             format=fmt)
    buf.seek(0)
    data, _ = sf.read(buf, dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)


def track_excerpt(row: Mapping[str, Any], study: Study) -> dict:
    """The excerpt of the ``excerpt`` rule (chosen from the processed vocal, else the raw
    take); a stored ``results/renders/<track>/excerpt.json`` that differs is reported."""
    from vocalmix.evaluation.render import choose_excerpt_file
    from vocalmix.files import read_json

    vocal = row.get("vocal") or row["raw_vocal"]
    ex, sr = choose_excerpt_file(study.path(vocal), study.render)
    ex.update(track=row["track_id"], sample_rate=sr, chosen_from=str(vocal))
    stored = study.results / "renders" / row["track_id"] / "excerpt.json"
    if stored.exists():
        old = read_json(stored)
        if any(old.get(k) != ex.get(k) for k in ("start_s", "duration_s", "fade_s")):
            log.warning("%s: the excerpt now chosen (%s) differs from %s (%s)",
                        row["track_id"], ex, stored, old)
    return ex


def render_item(condition: str, row: Mapping[str, Any], excerpt: dict, study: Study) -> dict:
    """One condition of one track as ``evaluate_track`` reads it back from the render rule's
    files: ``mix`` and, where known, the ``vocal`` and ``backing`` stems (float32, channels x
    samples), and ``genre`` (as the render JSON records it).

    Follows ``vocalmix.stages.render.render`` step by step: the windowed read of the
    professional and unprocessed conditions, the whole song mixed by the systems, the
    excerpt cut, :func:`normalise_for_listening` with its gain applied to the stems, 24-bit
    samples.
    """
    from vocalmix.audio import audio_info, db_to_gain
    from vocalmix.measure.loudness import integrated_loudness
    from vocalmix.evaluation.render import (WINDOWED_CONDITIONS, cut_excerpt, excerpt_window,
                                            normalise_for_listening, professional_source,
                                            read_window, reference_song_for,
                                            render_condition, system_input)

    settings, sr = study.render, study.sample_rate
    roles = ("vocal", "backing", "mixture", "raw_vocal")
    row = {**row, **{k: study.path(row.get(k)) for k in roles}}
    professional = study.path(settings.professional)
    reference = professional_source(row, professional)
    window = None
    if condition in WINDOWED_CONDITIONS:
        info = audio_info(row["backing"])
        if info["sample_rate"] == sr:
            start, n = excerpt_window(excerpt, sr)
            window = (start, max(0, min(n, info["frames"] - start)))
    backing = read_window(row["backing"], sr, window)
    vocal_in = role = None
    if condition != REFERENCE:
        role, path = system_input(row, settings)
        vocal_in = read_window(study.path(path), sr, window)
    pitch_correct = settings.pitch_correct_for(role)
    genre, genre_source = row.get("genre"), row.get("genre_source")
    kw: dict = {}
    if condition == "rule_based":
        resolved = study.genres.get(row["track_id"])
        if resolved is None:
            raise SystemExit(f"{row['track_id']} is not in results/corpus/genres.tsv")
        genre, genre_source = resolved["genre_resolved"], resolved["genre_resolved_source"]
        kw.update(genre_stats=study.genre_stats, genre=genre, genre_source=genre_source)
    if condition == "data_driven":
        from vocalmix.mixing.base import MixingSettings

        kw.update(models=study.models, hop_s=study.hop_s,
                  mixing=MixingSettings.from_mapping({"smooth_windows": study.smooth_windows}))
    if condition in ("rule_based", "data_driven"):
        kw["cleanup"] = settings.cleanup_for(role)
        song = reference_song_for(row, study.path(settings.reference_song))
        if song:
            from vocalmix.separation.settings import SeparationSettings

            kw["reference_song"] = song
            kw["separation"] = SeparationSettings.from_mapping(study.separation)
    mix, vocal, back, _info = render_condition(
        condition, row=row, backing=backing, sample_rate=sr, vocal_in=vocal_in,
        input_role=role, reference=reference, commercial=_commercial(row, study),
        pitch_correct=pitch_correct, threads=1, window=window, **kw)
    cut = excerpt if window is None else {**excerpt, "start_s": 0.0}
    mix_x = cut_excerpt(mix, sr, cut)
    # the excerpt's loudness as the system made it (the render JSON's unnormalised_lufs):
    # the normalisation equalises it, so the mix loudness error compares this one
    unnormalised = integrated_loudness(mix_x, sr)
    out, norm = normalise_for_listening(mix_x, sr,
                                        target_lufs=float(study.level.loudness_lufs),
                                        ceiling_dbtp=float(study.level.true_peak_dbtp))
    item = {"mix": _as_written(out, sr, "WAV"), "genre": genre,
            "unnormalised_lufs": unnormalised}
    if vocal is not None and back is not None:
        gain = np.float32(db_to_gain(norm["gain_db"]))
        for name, stem in (("vocal", vocal), ("backing", back)):
            data = cut_excerpt(stem, sr, cut) * gain
            peak = float(np.max(np.abs(data))) if data.size else 0.0
            if peak > 1.0:  # the render rule refuses it (write_audio clip="error")
                raise SystemExit(f"{row['track_id']}/{condition}: the {name} stem peaks at "
                                 f"{peak:.3f}, beyond full scale: the render rule would fail")
            item[name] = _as_written(data, sr, "FLAC")
    return item


def _commercial(row: Mapping[str, Any], study: Study) -> str | None:
    from vocalmix.evaluation.render import commercial_source

    return commercial_source(row, study.path(study.render.commercial))


def evaluate_track(row: Mapping[str, Any], conditions: Sequence[str], study: Study, *,
                   t60: bool) -> list[dict]:
    """The rows of one track: each of ``conditions`` compared with the professional render,
    as the ``evaluate_track`` rule compares them (T60 fitted to every stem with the rule's
    seed when ``t60``, else NaN)."""
    from vocalmix.evaluation.objective import compare, fitted_t60
    from vocalmix.seeding import derive_seed

    track, sr = row["track_id"], study.sample_rate
    excerpt = track_excerpt(row, study)
    items = {c: render_item(c, row, excerpt, study)
             for c in dict.fromkeys((REFERENCE, *conditions))}
    for item in items.values():
        item["t60_s"] = (fitted_t60(item["vocal"], sr,
                                    seed=derive_seed(study.seed, "evaluate_t60", track),
                                    settings=study.reverb)
                         if t60 and item.get("vocal") is not None else math.nan)
    ref = items[REFERENCE]
    rows = []
    for c in conditions:
        m = compare(items[c], ref, sr)
        rows.append({"track": track, "dataset": row.get("dataset"),
                     "genre": items[c]["genre"], "condition": c,
                     **{k: m.get(k) for k in (*METRIC_NAMES, *EXTRA_COLUMNS)}})
    return rows


# ---------------------------------------------------------------------------------- main
def _read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def main(argv: Sequence[str] | None = None) -> None:
    from vocalmix.tables import general, write_table

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="valid", choices=("train", "valid", "test"),
                    help="split to evaluate (default: valid; choose designs there)")
    ap.add_argument("--results", type=Path, default=REPO / "results",
                    help="the pipeline's results folder (read only)")
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml")
    ap.add_argument("--conditions", default=",".join(DEFAULT_CONDITIONS),
                    help="comma-separated conditions compared with the professional render")
    ap.add_argument("--no-t60", action="store_true",
                    help="skip the reverb T60 fits (the slow part); t60 columns NaN")
    ap.add_argument("--tracks", default="", help="comma-separated track ids of the split")
    ap.add_argument("--out", type=Path, default=None,
                    help="per-track CSV (default benchmarks/results/quality_<split>.csv); "
                         "the summary goes beside it as <name>_summary.csv")
    ap.add_argument("--models", type=Path, default=None,
                    help="the data-driven models' folder (default <results>/models)")
    ap.add_argument("--genre-stats", type=Path, default=None,
                    help="genre statistics TSV (default <results>/features/genre_stats.tsv)")
    ap.add_argument("--check", type=Path, default=None,
                    help="a pipeline per_track.tsv to compare the rows with (--split test)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or not conditions:
        ap.error(f"--conditions: one or more of {', '.join(CONDITIONS)}")
    out = args.out or OUT / f"quality_{args.split}.csv"
    summary_path = out.with_name(f"{out.stem}_summary.csv")

    t_start = time.perf_counter()
    study, manifest = load_study(args.config, args.results, conditions,
                                 models_dir=args.models, genre_stats_path=args.genre_stats)
    tracks = [t.strip() for t in args.tracks.split(",") if t.strip()]
    selected = select_rows(manifest, args.split, tracks)
    if not selected:
        raise SystemExit(f"no track of split {args.split!r} has a processed vocal and backing")
    print(f"{len(selected)} {args.split} tracks, {', '.join(conditions)}"
          f"{'' if not args.no_t60 else ' (no T60)'}; set-up {time.perf_counter() - t_start:.1f} s",
          flush=True)
    rows: list[dict] = []
    for i, row in enumerate(selected, 1):
        t0 = time.perf_counter()
        rows.extend(evaluate_track(row, conditions, study, t60=not args.no_t60))
        print(f"[{i}/{len(selected)}] {row['track_id']} ({row.get('genre')}): "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    order = {c: i for i, c in enumerate(CONDITIONS)}
    rows.sort(key=lambda r: (r["track"], order[r["condition"]]))
    summary = summary_rows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_table(out, rows, COLUMNS, cell=general(10), delimiter=",")
    write_table(summary_path, summary, SUMMARY_COLUMNS, cell=general(10), delimiter=",")
    means = condition_means(summary)
    print()
    print(format_table(means))
    for line in win_lines(means):
        print(line)
    if args.check is not None:
        print(f"\nagainst {args.check} (max |difference| over shared track x condition):")
        for col, d in check_against(rows, _read_tsv(args.check)).items():
            if d is None:
                print(f"  {col:<18} not in that table")
                continue
            where = f" at {d['at'][0]}/{d['at'][1]}" if d["at"] and d["max_abs"] > 0 else ""
            extra = f", {d['nan_mismatch']} NaN in one table only" if d["nan_mismatch"] else ""
            print(f"  {col:<18} {d['max_abs']:.3g}{where} (n={d['n']}{extra})")
    print(f"\nwrote {out} and {summary_path}; {time.perf_counter() - t_start:.1f} s in all",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
