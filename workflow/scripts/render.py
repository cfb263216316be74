"""Snakemake wrapper: rule render -> vocalmix.evaluation.render.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.evaluation.render:run")  # noqa: F821
