"""Snakemake wrapper: rule genre_features -> vocalmix.features.genre_features.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.features.genre_features:run")  # noqa: F821
