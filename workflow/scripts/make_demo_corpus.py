"""Snakemake wrapper: rule make_demo_corpus -> vocalmix.stages.demo.make_demo_corpus."""

from vocalmix.stages.demo import make_demo_corpus
from vocalmix.stages.runner import run_stage

run_stage(snakemake, make_demo_corpus)  # noqa: F821
