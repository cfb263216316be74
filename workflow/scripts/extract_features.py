"""Snakemake wrapper: rule extract_features -> vocalmix.features.extract.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.features.extract:run")  # noqa: F821
