"""The real-Slurm run of the tiny workflow, as a process the test session starts early.

A run through real sbatch spends most of its time waiting: for the controller to start each
job, for each job's Snakemake to parse the workflow, and for the executor plugin's status
checks (5 s at first, then 10 s more after every check that finds no job finished). On the
2-core reference machine it took about 300 s, of which the tiny workflow's own work is
about 35 s. Run after the rest of the suite, that wait was half of ``make test``.

So when the real-Slurm test is among the selected tests, the session starts the cluster
and this run at its beginning (``tests/conftest.py``), and the test itself only waits for
the process and checks what it did, exactly as before: the same command, the same
assertions. Where the cluster cannot start, nothing runs early and the test reports why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import REPO

PROFILE = REPO / "profiles/slurm"
TINY = REPO / "tests/workflow/config_tiny.yaml"
#: Wall-clock limit of the whole run, from its start.
RUN_TIMEOUT_S = 900
#: The test's node id: the session starts the run early only when it is selected.
TEST_ID = "tests/workflow/test_slurm.py::test_the_workflow_runs_through_real_slurm"


def profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


def largest_job(prof: dict) -> tuple[int, int]:
    """(CPUs, MB) of the biggest job the profile asks for."""
    sizes = [prof.get("default-resources", {})] + list(prof.get("set-resources", {}).values())
    cpus = max(int(r.get("cpus_per_task", 1)) for r in sizes)
    mem = max(int(r.get("mem_mb", 0)) for r in sizes)
    return cpus, mem


def slurm_command(*args: str, config: Path = TINY) -> list[str]:
    """``snakemake --profile profiles/slurm`` as the README gives it for a one-node cluster
    without accounting (``--slurm-status-command squeue``)."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--configfile", str(config), "--profile", str(PROFILE),
            "--slurm-status-command", "squeue", *args]


def workflow_args(partition: str) -> list[str]:
    """The arguments of the whole-workflow run: the profile's default resources given again
    with the partition (on the command line, ``--default-resources`` replaces the
    profile's whole set), status checks from 5 s on (speed only), target ``all``."""
    defaults = {**profile()["default-resources"], "slurm_partition": partition}
    return ["--default-resources", *(f"{k}={v}" for k, v in defaults.items()),
            "--slurm-init-seconds-before-status-checks", "5", "all"]


class SlurmRun:
    """``snakemake --profile profiles/slurm`` running in ``workdir`` on ``cluster``, its
    output in files (a pipe could fill up while nobody reads it)."""

    def __init__(self, cluster, workdir: Path, args: list[str], *, config: Path = TINY):
        self.cluster, self.workdir = cluster, Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cmd = slurm_command(*args, config=config)
        self._out = open(self.workdir / "snakemake.stdout", "w")
        self._err = open(self.workdir / "snakemake.stderr", "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, cwd=self.workdir, env=cluster.env,
                                     stdout=self._out, stderr=self._err,
                                     start_new_session=True)
        self.elapsed_s: float | None = None
        self._result: subprocess.CompletedProcess | None = None

    @classmethod
    def whole_workflow(cls, cluster, workdir: Path) -> "SlurmRun":
        return cls(cluster, workdir, workflow_args(cluster.PARTITION))

    def result(self, timeout_s: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
        """Wait until the run ends, at most ``timeout_s`` after it started; a run past
        that is killed and comes back as a failed run (exit status -9, with a note)."""
        if self._result is not None:
            return self._result
        note = ""
        try:
            self.proc.wait(timeout=max(0.0, self.started + timeout_s - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            note = f"\n(timed out after {timeout_s:.0f} s)"
        self.elapsed_s = time.monotonic() - self.started
        self._out.close()
        self._err.close()
        rc = self.proc.returncode if not note else -9
        self._result = subprocess.CompletedProcess(
            self.cmd, rc, (self.workdir / "snakemake.stdout").read_text(errors="replace"),
            (self.workdir / "snakemake.stderr").read_text(errors="replace") + note)
        return self._result

    def stop(self) -> None:
        """Kill the run and its children, if it still runs."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=60)
