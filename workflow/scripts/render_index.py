"""Snakemake wrapper: rule render_index -> vocalmix.render.run_index."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.render:run_index")  # noqa: F821
