"""Snakemake wrapper: rule excerpt -> vocalmix.render.run_excerpt."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.render:run_excerpt")  # noqa: F821
