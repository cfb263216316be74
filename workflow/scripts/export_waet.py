"""Snakemake wrapper: rule export_waet -> vocalmix.stages.export.export_waet."""

from vocalmix.stages.export import export_waet
from vocalmix.stages.runner import run_stage

run_stage(snakemake, export_waet)  # noqa: F821
