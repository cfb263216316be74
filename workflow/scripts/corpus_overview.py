"""Snakemake wrapper: rule corpus_overview -> vocalmix.corpus.overview.run."""

from vocalmix.workflow import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.corpus.overview:run")  # noqa: F821
