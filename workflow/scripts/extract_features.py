"""Snakemake wrapper: rule extract_features -> vocalmix.stages.features.extract_features."""

from vocalmix.stages.features import extract_features
from vocalmix.stages.runner import run_stage

run_stage(snakemake, extract_features)  # noqa: F821
