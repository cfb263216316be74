"""Snakemake wrapper: rule analyse_ratings -> vocalmix.analysis.stats.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.analysis.stats:run")  # noqa: F821
