"""``make resume`` unlocks a killed run only when no snakemake runs in its directory."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

GUARD = REPO / "workflow" / "scripts" / "resume_guard.py"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


def _guard(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GUARD), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_guard_passes_when_no_snakemake_runs_there(tmp_path):
    assert _guard(cwd=tmp_path).returncode == 0
    assert _guard("--directory", str(tmp_path), cwd=REPO).returncode == 0


@pytest.mark.parametrize("how", ["cwd", "directory"])
def test_guard_refuses_while_a_snakemake_runs_in_the_directory(tmp_path, how):
    other = tmp_path / "other"
    other.mkdir()
    # a stand-in process whose program name is snakemake, working in tmp_path
    sleeper = f"exec -a snakemake {sys.executable} -c 'import time; time.sleep(30)'"
    script = sleeper if how == "cwd" else f"{sleeper} --directory {tmp_path}"
    proc = subprocess.Popen(["bash", "-c", script], cwd=tmp_path if how == "cwd" else other)
    try:
        time.sleep(0.3)
        out = _guard(cwd=tmp_path)
        assert out.returncode == 1
        assert "still running" in out.stderr and str(proc.pid) in out.stderr
        assert _guard(cwd=other).returncode == 0  # another directory is not blocked
    finally:
        proc.kill()
        proc.wait()
    assert _guard(cwd=tmp_path).returncode == 0
