"""Snakemake wrapper: rule corrupt_extra -> vocalmix.stages.corrupt.corrupt_extra."""

from vocalmix.stages.corrupt import corrupt_extra
from vocalmix.stages.runner import run_stage

run_stage(snakemake, corrupt_extra)  # noqa: F821
