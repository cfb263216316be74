"""Snakemake wrapper: rule evaluate_track -> vocalmix.evaluation.objective.run_track."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.evaluation.objective:run_track")  # noqa: F821
