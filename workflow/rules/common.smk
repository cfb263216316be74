# Helpers only (no rules): config validation, the track sheet, code dependencies.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from vocalmix.conditions import CONDITIONS
from vocalmix.config import ConfigError, validate_config
from vocalmix.corpus.adapters import CorpusError, discover, synthetic_datasets
from vocalmix.corpus.demo_layout import genre_of, song_ids
from vocalmix.corpus.manifest import read_manifest
from vocalmix.models.genre import read_genres
from vocalmix.evaluation.render import commercial_source, conditions_for, professional_source
from vocalmix.evaluation.render import RenderSettings, reference_song_for, system_input
from vocalmix.evaluation.render import WINDOWED_CONDITIONS
from vocalmix.stages.runner import module_sources

try:
    validate_config(config)
except ConfigError as exc:
    raise WorkflowError(f"config: {exc}") from None

try:
    CANDIDATES, DISCOVERY_REJECTS = discover(config)
except CorpusError as exc:
    raise WorkflowError(str(exc)) from None

DEMO_SONGS = (
    song_ids(config["demo"]["songs"])
    if any(d["adapter"] == "demo" for d in config["datasets"])
    else []
)
# the songs the corpus uses (a demo entry's max_tracks keeps the first N), with the genre
# the generator deals each by its place among all songs: made by make_demo_corpus
_DEMO_USED = {c.track_id for c in CANDIDATES if c.adapter == "demo"}
DEMO_MADE = [
    {"song_id": s, "genre": genre_of(i, config["demo"]["genres"])}
    for i, s in enumerate(DEMO_SONGS)
    if s in _DEMO_USED
]
DEMO_MADE_IDS = [d["song_id"] for d in DEMO_MADE]


wildcard_constraints:
    song="demo_[0-9]+",
    track="[a-z0-9][a-z0-9_-]*",


def pkg(*modules):
    """The package files implementing ``modules`` (transitively): rule inputs, so that
    editing one module reruns exactly the stages that import it."""
    return module_sources(*modules)


def pkg_data(name):
    """A data file shipped in the package (e.g. the MUSDB18 genre table), as an input."""
    return os.path.relpath(Path(workflow.basedir) / "workflow/scripts/vocalmix/data" / name)


def ingest_inputs():
    """Every source file of every candidate track (demo songs come from make_demo_corpus)."""
    return sorted({f for c in CANDIDATES for f in c.all_files()})


_MANIFEST_CACHE = {}


def _manifest_cached():
    """(rows, rows by track id) of the track sheet, read and validated once per version of
    the file: the DAG asks for it thousands of times (8,922 reads in one dry-run over the
    full MIR-1K, 0.2 s each)."""
    path = checkpoints.ingest.get().output.tracks
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _MANIFEST_CACHE:
        _MANIFEST_CACHE.clear()
        rows = read_manifest(path)
        _MANIFEST_CACHE[key] = (rows, {r["track_id"]: r for r in rows})
    return _MANIFEST_CACHE[key]


def manifest():
    """The validated track sheet, once the ingest checkpoint has run (copies of the rows:
    callers may change them)."""
    return [dict(r) for r in _manifest_cached()[0]]


def track_ids(split=None, require=None):
    rows = manifest()
    return [
        r["track_id"]
        for r in rows
        if (split is None or r["split"] in split) and (require is None or r.get(require))
    ]


def get_final_output():
    return [
        "results/corpus/tracks.tsv",
        "results/features/summary.tsv",
        "results/features/genre_stats.tsv",
        "results/genre/metrics.json",
        "results/corpus/genres.tsv",
        "results/models/summary.tsv",
        "results/renders/renders.tsv",
        "results/evaluation/summary.tsv",
        "listening_test/waet/tests/vocalmix.xml",
        "results/analysis/anova.tsv",
        "results/analysis/summary.html",
        "results/corpus/overview.png",
        # separation quality whenever finished songs are separated (commercial_mixes)
        *(["results/separated/quality.tsv"] if config["commercial_mixes"] else []),
        # vocal activity vs lyric-line timings where commercial_mixes entries give them
        *(["results/separated/activity.tsv"] if ACTIVITY else []),
    ]


def truth_tracks():
    """Manifest rows with generator ground truth (the demo) and a processed vocal."""
    return [r for r in manifest() if r.get("truth") and r.get("vocal")]


def track_row(track):
    row = _manifest_cached()[1].get(track)
    if row is not None:
        return dict(row)
    raise WorkflowError(f"track {track!r} is not in results/corpus/tracks.tsv")


# Peak memory of the per-track jobs, measured by benchmarks/long_songs.py on songs of 3, 5, 8
# and 10 minutes (benchmarks/results/long_songs.csv: each job's high-water mark, logged by the
# stage runner): MiB = max(floor, base + per_minute * minutes), a line on or above the highest
# job of each length, declared with a 25 % margin so that a scheduler's limit is not hit by
# the spread between runs. The streamed stages are flat (per_minute 0); the mixing systems'
# renders (rule_based, data_driven, the commercial preset) analyse and render at most
# mixing.analysis_s (180 s) of the song around its excerpt, so they grow up to that length
# and are flat beyond it ("capped"); professional and unprocessed read the excerpt only
# ("render_excerpt").
JOB_MEMORY = {  # rule: (floor MiB, base MiB, MiB per minute of song)
    "corrupt": (560, 560, 0),  # 551-557 MiB at 3-10 min (WPE in 50-s blocks)
    "corrupt_extra": (100, 80, 0),  # 78-80
    "extract_features": (250, 250, 0),  # 216-248
    "excerpt": (100, 60, 0),  # 54-56
    # worst mixer 782, 791, 682, 787 at 3, 5, 8, 10 min (each mixed on a 180-s window);
    # whole-song renders grew 135 MiB per minute (678 -> 1475 from 3 to 10 min)
    "render": (400, 390, 135),
    "render_excerpt": (150, 130, 0),  # professional, unprocessed: 121-129
    "evaluate_track": (450, 440, 0),  # 428-439
}


CAPPED_BY_ANALYSIS_WINDOW = {"render"}


def track_mem_mb(rule_name):
    """``resources: mem_mb`` of a per-track rule, from the song's length in the manifest
    (for ``render``, of its condition)."""

    def mem_mb(wildcards, attempt=1):
        key = rule_name
        if rule_name == "render" and getattr(wildcards, "condition", None) in WINDOWED_CONDITIONS:
            key = "render_excerpt"
        floor, base, per_minute = JOB_MEMORY[key]
        minutes = float(track_row(wildcards.track).get("duration_s") or 600.0) / 60.0
        if key in CAPPED_BY_ANALYSIS_WINDOW:  # mixed on at most mixing.analysis_s
            minutes = min(minutes, float(config["mixing"]["analysis_s"]) / 60.0)
        peak = max(floor, base + per_minute * minutes)
        return int(-(-peak * 1.25 // 100) * 100) * attempt

    return mem_mb


ROLES = ("vocal", "backing", "mixture", "raw_vocal")


def track_audio(wildcards, roles=ROLES):
    """The standardised audio of a track, as named inputs (only the roles it has)."""
    row = track_row(wildcards.track)
    return {role: row[role] for role in roles if row.get(role)}


# ---- helpers of corruption, dataset and models (models.smk)

TASKS = ("level", "eq", "compression", "reverb")
VERSIONS = range(config["corruption"]["versions"])
# corrupted versions whose audio is read again after the dataset (issue 19, disk): version 0
# (the held-out comparison of the systems) and the systems' input in the renders; the
# others are read once, by build_dataset, and are temporary (rule corrupt_extra)
KEPT_VERSIONS = sorted({0, config["render"]["corruption_version"]} & set(VERSIONS))
EXTRA_VERSIONS = [k for k in VERSIONS if k not in KEPT_VERSIONS]


def vocal_tracks(split=None):
    """Manifest rows with a processed vocal (the corruption and training material)."""
    return [r for r in manifest() if r.get("vocal") and (split is None or r["split"] in split)]


def corrupt_inputs(wildcards):
    row = track_row(wildcards.track)
    if not row.get("vocal"):
        raise WorkflowError(f"{wildcards.track}: no processed vocal to corrupt")
    files = {"vocal": row["vocal"]}
    checked = config["corruption"]["dereverb"] and config["corruption"]["note_check"]
    if checked and row.get("truth") and row.get("origin"):
        files["dry_vocal"] = os.path.join(row["origin"], "dry_vocal.flac")
        files["truth"] = row["truth"]
    return files


def corrupted(tracks, versions=VERSIONS):
    return expand(
        "results/corrupted/{track}/v{k}.flac",
        track=[r["track_id"] for r in tracks],
        k=versions,
    )


# ---- helpers of rendering and evaluation (render.smk)

RENDER = config["render"]
RENDER_SETTINGS = RenderSettings.from_mapping(RENDER)


def render_tracks():
    """Test-split rows with a backing and a vocal (processed or raw) to mix."""
    return [
        r
        for r in manifest()
        if r["split"] == "test" and r.get("backing") and (r.get("vocal") or r.get("raw_vocal"))
    ]


def render_conditions(track):
    return conditions_for(track_row(track), RENDER_SETTINGS)


def rendered(suffix, tracks=None):
    rows = render_tracks() if tracks is None else [track_row(t) for t in tracks]
    return [
        f"results/renders/{r['track_id']}/{c}{suffix}"
        for r in rows
        for c in conditions_for(r, RENDER_SETTINGS)
    ]


def render_genre(wildcards):
    """(genre, source) the rule-based mixer uses (metadata, a confident prediction or the
    average); other conditions only record the track's metadata genre."""
    if wildcards.condition == "rule_based":
        return track_genre(wildcards.track)
    row = track_row(wildcards.track)
    return row.get("genre"), row.get("genre_source")


#: The niceness of jobs no later job is waiting for yet (:func:`render_nice`, :func:`train_nice`).
BACKGROUND_NICE = 10
#: ``priority`` of the jobs the pipeline's end waits for longest (the dataset and the
#: models' training, two minutes of the demo's five): when more jobs are ready than there
#: are free job slots, Snakemake starts these first, so no background render holds the
#: slot they need.
CRITICAL_PRIORITY = 10


def render_inputs(wildcards):
    row = track_row(wildcards.track)
    if wildcards.condition not in render_conditions(wildcards.track):
        raise WorkflowError(f"{wildcards.track}: no reference mix for 'professional'")
    files = {
        "excerpt": f"results/renders/{wildcards.track}/excerpt.json",
        "backing": row["backing"],
    }
    if wildcards.condition == "professional":
        files["reference"] = professional_source(row, RENDER["professional"])
        return files
    files["vocal_in"] = system_input(row, RENDER_SETTINGS)[1]
    song = reference_song_for(row, RENDER["reference_song"])
    if song and wildcards.condition in ("rule_based", "data_driven"):
        files["reference_song"] = song
    if wildcards.condition == "rule_based":
        files["genre_stats"] = "results/features/genre_stats.tsv"
    elif wildcards.condition == "data_driven":
        files["models"] = expand("results/models/{task}/model.pt", task=TASKS)
    elif wildcards.condition == "commercial":
        supplied = commercial_source(row, RENDER["commercial"])
        if supplied:
            files["commercial"] = supplied
    return files


def render_nice(wildcards):
    """``params: nice`` of a render (:func:`vocalmix.stages.runner.run_stage` lowers the
    job's CPU priority by it): the renders that need no trained model are ready long before
    the pipeline's end needs them, and with more jobs than cores (``-j8`` on a 2-core
    machine) they would take CPU time from the jobs the rest of the DAG waits for (the
    dataset, the models' training). Niced, they fill the cores those jobs leave idle."""
    return 0 if wildcards.condition == "data_driven" else BACKGROUND_NICE


def train_nice(wildcards):
    """``params: nice`` of a model's training: the models that hear the vocal train on every
    corrupted version of each window (the eq model: four times the windows of the others,
    the longest job of the run), the others only on one; niced, the short ones leave the
    long one its core, and are still done long before it."""
    hears_vocal = "vocal" in (config["train"]["inputs"].get(wildcards.task) or ["vocal"])
    return 0 if hears_vocal else BACKGROUND_NICE


# ---- helpers of the genre stage (genre.smk)

_GENRES_CACHE = {}


def genre_feature_tracks():
    """Every manifest row, reduced to what the genre features need."""
    keys = ("track_id", "dataset", "split", "genre", "genre_source", "backing")
    return [{k: r.get(k) for k in keys} for r in manifest()]


def genre_table():
    """results/corpus/genres.tsv (track_id -> row), once the predict_genres checkpoint ran."""
    path = checkpoints.predict_genres.get().output.genres
    key = (path, os.path.getmtime(path))
    if key not in _GENRES_CACHE:
        _GENRES_CACHE.clear()
        _GENRES_CACHE[key] = read_genres(path)
    return _GENRES_CACHE[key]


def track_genre(track):
    """(resolved genre or None for the overall average, source) of a track: metadata, else a
    confident prediction, else average (vocalmix.models.genre.resolve_genre)."""
    row = genre_table().get(track)
    if row is None:
        raise WorkflowError(f"track {track!r} is not in results/corpus/genres.tsv")
    return row["genre_resolved"], row["genre_resolved_source"]


def with_genre(row):
    """A manifest row with its resolved genre added (genre_resolved, genre_resolved_source)."""
    genre, source = track_genre(row["track_id"])
    return {**row, "genre_resolved": genre, "genre_resolved_source": source}


# ---- helpers of source separation (separation.smk)

import re
from dataclasses import asdict

from vocalmix.corpus.separated import activity_references, separated_paths
from vocalmix.separation.api import SeparationError, check_backend
from vocalmix.separation.settings import SeparationSettings
from vocalmix.separation.bias import calibration_candidates
from vocalmix.separation.training import training_candidates

SEPARATION = config["separation"]
SEPARATION_BACKEND = SEPARATION["backend"]
SEPARATED = {c.track_id: c for c in CANDIDATES if c.adapter == "separated"}
ACTIVITY = {t: p for t, p in activity_references(config).items() if t in SEPARATED}
# tracks with true stems that the configured separator also separates: the test split's
# (separation quality and bias) and, when finished songs are separated, up to
# separation.calibration_tracks real train/valid ones (the bias correction)
CALIBRATION = (
    {
        c.track_id: c
        for c in calibration_candidates(
            CANDIDATES,
            synthetic_datasets=synthetic_datasets(config),
            limit=SEPARATION["calibration_tracks"],
            seed=config["seed"],
        )
    }
    if SEPARATED
    else {}
)
HELDOUT = {
    **{c.track_id: c for c in training_candidates(CANDIDATES, "test")},
    **CALIBRATION,
}
SEPARATOR_MODEL = "results/separated/model/separator.pt"

if SEPARATED and SEPARATION_BACKEND != "builtin":
    try:  # refuse before any job: spleeter would otherwise run with random weights
        check_backend(SeparationSettings.from_mapping(SEPARATION))
    except SeparationError as exc:
        raise WorkflowError(f"separation.backend {SEPARATION_BACKEND}: {exc}") from None


def backend_tracks(backend, ids):
    """Wildcard pattern: exactly ``ids`` for the configured backend, nothing for the others."""
    if backend != SEPARATION_BACKEND or not ids:
        return "(?!x)x"
    return "|".join(re.escape(t) for t in sorted(ids))


def separation_params():
    """Only the configured backend's settings (others' changes rerun nothing)."""
    return {"backend": SEPARATION_BACKEND, SEPARATION_BACKEND: SEPARATION[SEPARATION_BACKEND]}


def separation_config():
    return {
        **{k: config[k] for k in ("seed", "sample_rate", "ingest")},
        "separation": separation_params(),
    }


def separator_model(wildcards):
    if SEPARATION_BACKEND == "builtin" and SEPARATION["builtin"]["method"] == "network":
        return {"model": SEPARATOR_MODEL}
    return {}


def separator_runners():
    runner = {"spleeter": "spleeter_runner.py", "demucs": "demucs_runner.py"}
    if SEPARATION_BACKEND not in runner:
        return []
    base = Path(workflow.basedir) / "workflow/scripts/vocalmix/separation"
    return [os.path.relpath(base / runner[SEPARATION_BACKEND])]


def separation_candidates(split):
    return [asdict(c) for c in training_candidates(CANDIDATES, split)]


def candidate_files(*splits):
    cands = [c for s in splits for c in training_candidates(CANDIDATES, s)]
    return sorted({f for c in cands for f in c.all_files()})


def heldout_estimates():
    return {
        t: {s: f"results/separated/heldout/{t}/{s}.wav" for s in ("vocal", "backing")}
        for t in HELDOUT
    }
