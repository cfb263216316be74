"""Snakemake wrapper: rule train_genre_classifier -> vocalmix.features.genre.run_train."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.features.genre:run_train")  # noqa: F821
