"""Snakemake wrapper: rule make_demo_corpus -> vocalmix.corpus.demo.run."""

from vocalmix.stages.runner import run_from_snakemake

run_from_snakemake(snakemake, "vocalmix.corpus.demo:run")  # noqa: F821
