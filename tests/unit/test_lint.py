"""The workflow passes Snakemake's own linter and snakefmt's formatting check."""

from __future__ import annotations

import pytest

import subprocess
import sys

from tests.conftest import REPO


@pytest.mark.slow
def test_snakemake_lint_is_clean():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--snakefile",
                           str(REPO / "Snakefile"), "--directory", str(REPO)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_snakefmt_check_is_clean():
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile",
                           "workflow/rules"], capture_output=True, text=True, cwd=REPO,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_ruff_finds_no_undefined_or_unused_names():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "workflow",
                           "tests", "benchmarks"], capture_output=True, text=True, cwd=REPO,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
