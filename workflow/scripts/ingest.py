"""Snakemake wrapper: checkpoint ingest -> vocalmix.corpus.ingest.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.corpus.ingest:run")  # noqa: F821
