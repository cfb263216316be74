"""Snakemake wrapper: rule evaluate_track -> vocalmix.evaluation.run_track."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.evaluation:run_track")  # noqa: F821
