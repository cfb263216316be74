"""Runs the Snakefile end to end on the tiny config once per test session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

TINY = Path(__file__).resolve().parent / "config_tiny.yaml"


def snakemake(workdir: Path, *args: str, config: Path = TINY, check: bool = True,
              timeout: int = 900) -> subprocess.CompletedProcess:
    """``snakemake`` on the repository's Snakefile, with ``workdir`` as working directory."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(config), "--cores", "2",
           "--nolock", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A complete run of ``all`` on the tiny config; returns its working directory."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    snakemake(workdir, "all")
    return workdir
