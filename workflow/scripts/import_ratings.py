"""Snakemake wrapper: rule import_ratings -> vocalmix.stages.ratings.import_ratings."""

from vocalmix.stages.ratings import import_ratings
from vocalmix.stages.runner import run_stage

run_stage(snakemake, import_ratings)  # noqa: F821
