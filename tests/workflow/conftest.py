"""Runs the Snakefile end to end on the tiny config once per test session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.workflow.background import TINY, start_tiny_run, tiny_command


def snakemake(workdir: Path, *args: str, config: Path = TINY, check: bool = True,
              timeout: int = 900) -> subprocess.CompletedProcess:
    """``snakemake`` on the repository's Snakefile, with ``workdir`` as working directory."""
    cmd = tiny_command(workdir, *args, config=config)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_run(tiny_run_started, tmp_path_factory) -> Path:
    """A complete run of ``all`` on the tiny config; returns its working directory. The run
    started with the session (``tiny_run_started``, tests/workflow/background.py), or here
    where it did not."""
    run = tiny_run_started or start_tiny_run(tmp_path_factory.mktemp("tiny_run"))
    return run.succeeded()
