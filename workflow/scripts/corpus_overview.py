"""Snakemake wrapper: rule corpus_overview -> vocalmix.stages.overview.corpus_overview."""

from vocalmix.stages.overview import corpus_overview
from vocalmix.stages.runner import run_stage

run_stage(snakemake, corpus_overview)  # noqa: F821
