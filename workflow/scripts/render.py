"""Snakemake wrapper: rule render -> vocalmix.render.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.render:run")  # noqa: F821
