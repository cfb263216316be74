"""Snakemake wrapper: rule separation_quality -> vocalmix.stages.separation_quality.separation_quality."""

from vocalmix.stages.separation_quality import separation_quality
from vocalmix.stages.runner import run_stage

run_stage(snakemake, separation_quality)  # noqa: F821
