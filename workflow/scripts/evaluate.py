"""Snakemake wrapper: rule evaluate -> vocalmix.evaluation.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.evaluation:run")  # noqa: F821
