# Helpers only (no rules): config validation, the track sheet, code dependencies.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from vocalmix.config import ConfigError, validate_config
from vocalmix.corpus.adapters import CorpusError, discover
from vocalmix.corpus.demo_layout import genre_of, song_ids
from vocalmix.corpus.manifest import read_manifest
from vocalmix.workflow import module_sources

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


def demo_genre(wildcards):
    return genre_of(DEMO_SONGS.index(wildcards.song), config["demo"]["genres"])


def ingest_inputs():
    """Every source file of every candidate track (demo songs come from make_demo_corpus)."""
    return sorted({f for c in CANDIDATES for f in c.all_files()})


def manifest():
    """The validated track sheet, once the ingest checkpoint has run."""
    return read_manifest(checkpoints.ingest.get().output.tracks)


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
        "results/models/summary.tsv",
    ]


def truth_tracks():
    """Manifest rows with generator ground truth (the demo) and a processed vocal."""
    return [r for r in manifest() if r.get("truth") and r.get("vocal")]


def track_row(track):
    for row in manifest():
        if row["track_id"] == track:
            return row
    raise WorkflowError(f"track {track!r} is not in results/corpus/tracks.tsv")


ROLES = ("vocal", "backing", "mixture", "raw_vocal")


def track_audio(wildcards, roles=ROLES):
    """The standardised audio of a track, as named inputs (only the roles it has)."""
    row = track_row(wildcards.track)
    return {role: row[role] for role in roles if row.get(role)}
