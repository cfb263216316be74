"""Snakemake wrapper: rule simulate_listeners -> vocalmix.stages.simulate.simulate_listeners."""

from vocalmix.stages.simulate import simulate_listeners
from vocalmix.stages.runner import run_stage

run_stage(snakemake, simulate_listeners)  # noqa: F821
