"""Snakemake wrapper: rule vocal_activity -> vocalmix.stages.activity.vocal_activity."""

from vocalmix.stages.activity import vocal_activity
from vocalmix.stages.runner import run_stage

run_stage(snakemake, vocal_activity)  # noqa: F821
