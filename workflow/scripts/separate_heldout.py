"""Snakemake wrapper: rule separate_heldout -> vocalmix.separation.heldout.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.separation.heldout:run")  # noqa: F821
