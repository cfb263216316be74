"""Snakemake wrapper: rule corrupt -> vocalmix.corruption.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.corruption:run")  # noqa: F821
