"""Snakemake wrapper: rule export_waet -> vocalmix.listening.export.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.listening.export:run")  # noqa: F821
