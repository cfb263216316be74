"""Snakemake wrapper: rule corrupt -> vocalmix.stages.corrupt.corrupt."""

from vocalmix.stages.corrupt import corrupt
from vocalmix.stages.runner import run_stage

run_stage(snakemake, corrupt)  # noqa: F821
