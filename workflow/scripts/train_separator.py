"""Snakemake wrapper: rule train_separator -> vocalmix.stages.separator.train_separator."""

from vocalmix.stages.separator import train_separator
from vocalmix.stages.runner import run_stage

run_stage(snakemake, train_separator)  # noqa: F821
