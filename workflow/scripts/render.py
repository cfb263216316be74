"""Snakemake wrapper: rule render -> vocalmix.stages.render.render."""

from vocalmix.stages.render import render
from vocalmix.stages.runner import run_stage

run_stage(snakemake, render)  # noqa: F821
