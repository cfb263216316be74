"""Snakemake wrapper: checkpoint ingest -> vocalmix.corpus.ingest.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.corpus.ingest:run")  # noqa: F821
