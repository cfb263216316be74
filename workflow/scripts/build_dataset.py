"""Snakemake wrapper: rule build_dataset -> vocalmix.dataset.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.dataset:run")  # noqa: F821
