"""Snakemake wrapper: rule separate -> vocalmix.separation.stage.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.separation.stage:run")  # noqa: F821
