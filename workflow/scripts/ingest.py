"""Snakemake wrapper: checkpoint ingest -> vocalmix.stages.ingest.ingest."""

from vocalmix.stages.ingest import ingest
from vocalmix.stages.runner import run_stage

run_stage(snakemake, ingest)  # noqa: F821
