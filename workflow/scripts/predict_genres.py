"""Snakemake wrapper: rule predict_genres -> vocalmix.stages.genre.predict_genres."""

from vocalmix.stages.genre import predict_genres
from vocalmix.stages.runner import run_stage

run_stage(snakemake, predict_genres)  # noqa: F821
