"""Snakemake wrapper: rule separation_quality -> vocalmix.separation.quality.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.separation.quality:run")  # noqa: F821
