"""Snakemake wrapper: rule evaluate_models -> vocalmix.model_eval.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.model_eval:run")  # noqa: F821
