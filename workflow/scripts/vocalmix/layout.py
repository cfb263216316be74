"""Where the pipeline keeps what it writes, relative to the working directory.

The Snakemake rules spell these paths out as literals (Snakemake's style); the command line
uses the same files as its defaults, from here, so that ``vocalmix`` run in a pipeline's
working directory finds what the pipeline made. ``tests/unit/test_cli_layout.py`` checks
that every path here is one that a rule writes.
"""

from __future__ import annotations

__all__ = ["GENRE_MODEL", "GENRE_STATS", "MODELS_DIR", "RENDERS_TABLE", "EVALUATION_PER_TRACK",
           "WAET_DIR", "WAET_KEY", "RATINGS", "ANALYSIS_DIR", "SEPARATOR_MODEL", "SEPARATED_DIR",
           "SEPARATED_DATASET"]

#: the genre classifier of the backing (rule ``train_genre_classifier``)
GENRE_MODEL = "results/genre/model.json"
#: per-genre vocal-to-backing ratio and vocal LRA (rule ``summarise_features``)
GENRE_STATS = "results/features/genre_stats.tsv"
#: the data-driven mixer's task models, one folder per task (rule ``train_model``)
MODELS_DIR = "results/models"
#: the rendered listening-test stimuli (rule ``render_index``)
RENDERS_TABLE = "results/renders/renders.tsv"
#: objective metrics per track and condition (rule ``evaluate``)
EVALUATION_PER_TRACK = "results/evaluation/per_track.tsv"
#: the exported WAET test, laid out like a WAET root (rule ``export_waet``)
WAET_DIR = "listening_test/waet"
WAET_KEY = f"{WAET_DIR}/KEY.tsv"
#: the listening test's ratings (rule ``import_ratings``) and their analysis
RATINGS = "results/analysis/ratings.tsv"
ANALYSIS_DIR = "results/analysis"
#: the builtin separator's weights (rule ``train_separator``) and separated songs
SEPARATOR_MODEL = "results/separated/model/separator.pt"
SEPARATED_DIR = "results/separated"
#: the dataset name of the separated finished songs (``commercial_mixes``)
SEPARATED_DATASET = "separated"
