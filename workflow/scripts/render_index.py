"""Snakemake wrapper: rule render_index -> vocalmix.evaluation.render.run_index."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.evaluation.render:run_index")  # noqa: F821
