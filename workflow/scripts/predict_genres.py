"""Snakemake wrapper: rule predict_genres -> vocalmix.features.genre.run_predict."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.features.genre:run_predict")  # noqa: F821
