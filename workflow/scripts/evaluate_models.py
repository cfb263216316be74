"""Snakemake wrapper: rule evaluate_models -> vocalmix.stages.systems.evaluate_models."""

from vocalmix.stages.systems import evaluate_models
from vocalmix.stages.runner import run_stage

run_stage(snakemake, evaluate_models)  # noqa: F821
