"""Snakemake wrapper: rule train_separator -> vocalmix.separation.training.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.separation.training:run")  # noqa: F821
