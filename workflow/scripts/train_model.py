"""Snakemake wrapper: rule train_model -> vocalmix.train.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.train:run")  # noqa: F821
