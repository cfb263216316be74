"""Snakemake wrapper: rule excerpt -> vocalmix.stages.render.excerpt."""

from vocalmix.stages.render import excerpt
from vocalmix.stages.runner import run_stage

run_stage(snakemake, excerpt)  # noqa: F821
