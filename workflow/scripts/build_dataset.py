"""Snakemake wrapper: rule build_dataset -> vocalmix.models.dataset.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.models.dataset:run")  # noqa: F821
