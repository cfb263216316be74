"""The Snakemake profiles as Snakemake reads them (command-line parsing only, no run)."""

from __future__ import annotations

import yaml

from tests.conftest import REPO

SLURM = REPO / "profiles/slurm"


def parsed(*argv: str):
    from snakemake import cli

    _, args = cli.parse_args(["--snakefile", str(REPO / "Snakefile"), *argv, "-n", "all"])
    return args


def test_the_workflow_profile_does_not_replace_the_slurm_profiles_settings():
    """profiles/default is also read as the workflow profile of every --profile run, after
    it, and replaces its top-level keys wholesale: it must not carry default-resources or
    latency-wait, or the SLURM profile's would be silently dropped."""
    args = parsed("--profile", str(SLURM))
    assert args.executor == "slurm"
    assert args.latency_wait == 60
    defaults = args.default_resources
    assert defaults["mem_mb"].value == 4000 and defaults["runtime"].value == 30
    assert defaults["cpus_per_task"].value == 1
    assert args.set_resources["ingest"]["cpus_per_task"].value == 8


def test_the_slurm_profile_asks_for_gpus_only_through_the_config():
    """No gpu and no GPU partition in the profile: train_model's gpu resource is
    train.gpus (0: no --gpus at all), and no job is sent to a placeholder partition."""
    prof = yaml.safe_load((SLURM / "config.yaml").read_text())
    train = prof["set-resources"]["train_model"]
    assert "gpu" not in train and "gpus" not in train and "slurm_partition" not in train
    assert "CHANGE_ME" not in (SLURM / "config.yaml").read_text()
    args = parsed("--profile", str(SLURM))
    assert "gpu" not in args.set_resources["train_model"]
    rule = (REPO / "workflow/rules/models.smk").read_text()
    assert 'gpu=lookup(dpath="train/gpus", within=config)' in rule
