"""Snakemake wrapper: rule evaluate -> vocalmix.stages.objective.evaluate."""

from vocalmix.stages.objective import evaluate
from vocalmix.stages.runner import run_stage

run_stage(snakemake, evaluate)  # noqa: F821
