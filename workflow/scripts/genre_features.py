"""Snakemake wrapper: rule genre_features -> vocalmix.stages.genre_features.genre_features."""

from vocalmix.stages.genre_features import genre_features
from vocalmix.stages.runner import run_stage

run_stage(snakemake, genre_features)  # noqa: F821
