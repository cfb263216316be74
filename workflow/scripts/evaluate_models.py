"""Snakemake wrapper: rule evaluate_models -> vocalmix.evaluation.systems.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.evaluation.systems:run")  # noqa: F821
