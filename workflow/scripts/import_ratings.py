"""Snakemake wrapper: rule import_ratings -> vocalmix.listening.results.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.listening.results:run")  # noqa: F821
