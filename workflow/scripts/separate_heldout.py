"""Snakemake wrapper: rule separate_heldout -> vocalmix.separation.heldout.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.separation.heldout:run")  # noqa: F821
