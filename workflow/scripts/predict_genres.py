"""Snakemake wrapper: rule predict_genres -> vocalmix.models.genre.run_predict."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.models.genre:run_predict")  # noqa: F821
