"""Snakemake wrapper: rule summarise_features -> vocalmix.stages.summary.summarise_features."""

from vocalmix.stages.summary import summarise_features
from vocalmix.stages.runner import run_stage

run_stage(snakemake, summarise_features)  # noqa: F821
