"""Snakemake wrapper: rule analyse_ratings -> vocalmix.stages.analysis.analyse_ratings."""

from vocalmix.stages.analysis import analyse_ratings
from vocalmix.stages.runner import run_stage

run_stage(snakemake, analyse_ratings)  # noqa: F821
