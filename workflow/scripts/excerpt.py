"""Snakemake wrapper: rule excerpt -> vocalmix.evaluation.render.run_excerpt."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.evaluation.render:run_excerpt")  # noqa: F821
