"""Snakemake wrapper: rule train_genre_classifier -> vocalmix.models.genre.run_train."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.models.genre:run_train")  # noqa: F821
