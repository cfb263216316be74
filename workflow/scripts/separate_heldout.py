"""Snakemake wrapper: rule separate_heldout -> vocalmix.stages.heldout.separate_heldout."""

from vocalmix.stages.heldout import separate_heldout
from vocalmix.stages.runner import run_stage

run_stage(snakemake, separate_heldout)  # noqa: F821
