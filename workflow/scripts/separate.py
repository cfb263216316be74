"""Snakemake wrapper: rule separate -> vocalmix.stages.separate.separate."""

from vocalmix.stages.separate import separate
from vocalmix.stages.runner import run_stage

run_stage(snakemake, separate)  # noqa: F821
