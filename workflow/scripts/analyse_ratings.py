"""Snakemake wrapper: rule analyse_ratings -> vocalmix.stats.analysis.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.stats.analysis:run")  # noqa: F821
