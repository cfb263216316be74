"""Snakemake wrapper: rule evaluate -> vocalmix.evaluation.objective.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.evaluation.objective:run")  # noqa: F821
