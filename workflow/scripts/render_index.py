"""Snakemake wrapper: rule render_index -> vocalmix.stages.render.render_index."""

from vocalmix.stages.render import render_index
from vocalmix.stages.runner import run_stage

run_stage(snakemake, render_index)  # noqa: F821
