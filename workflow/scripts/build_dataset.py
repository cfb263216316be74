"""Snakemake wrapper: rule build_dataset -> vocalmix.stages.dataset.build_dataset."""

from vocalmix.stages.dataset import build_dataset
from vocalmix.stages.runner import run_stage

run_stage(snakemake, build_dataset)  # noqa: F821
