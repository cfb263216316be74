"""Snakemake wrapper: rule train_model -> vocalmix.models.train.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.models.train:run")  # noqa: F821
