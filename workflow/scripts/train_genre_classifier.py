"""Snakemake wrapper: rule train_genre_classifier -> vocalmix.stages.genre.train_genre_classifier."""

from vocalmix.stages.genre import train_genre_classifier
from vocalmix.stages.runner import run_stage

run_stage(snakemake, train_genre_classifier)  # noqa: F821
