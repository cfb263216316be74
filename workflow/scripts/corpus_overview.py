"""Snakemake wrapper: rule corpus_overview -> vocalmix.corpus.overview.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.corpus.overview:run")  # noqa: F821
