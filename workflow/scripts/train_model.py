"""Snakemake wrapper: rule train_model -> vocalmix.stages.train.train_model."""

from vocalmix.stages.train import train_model
from vocalmix.stages.runner import run_stage

run_stage(snakemake, train_model)  # noqa: F821
