"""Snakemake wrapper: rule simulate_listeners -> vocalmix.listening.simulate.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.listening.simulate:run")  # noqa: F821
