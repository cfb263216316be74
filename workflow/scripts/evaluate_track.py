"""Snakemake wrapper: rule evaluate_track -> vocalmix.stages.objective.evaluate_track."""

from vocalmix.stages.objective import evaluate_track
from vocalmix.stages.runner import run_stage

run_stage(snakemake, evaluate_track)  # noqa: F821
