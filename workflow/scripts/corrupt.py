"""Snakemake wrapper: rule corrupt -> vocalmix.dsp.corruption.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.dsp.corruption:run")  # noqa: F821
