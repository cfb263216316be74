"""Snakemake wrapper: rule summarise_features -> vocalmix.features.summary.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.features.summary:run")  # noqa: F821
