"""Workflow runs that the test session starts at its beginning, in the background.

The unit tests run on one core. Workflow runs that later tests need can use the other one
meanwhile:

* **the tiny run** (``tiny_run``, tests/workflow/conftest.py): ``all`` on the tiny config,
  which a dozen workflow tests read; about 35 s of work.
* **a second tiny run** on 2 cores, which the reproducibility test compares with the first;
* **the real-Slurm run** (tests/workflow/test_slurm.py): the same workflow through real
  sbatch. It spends most of its time waiting: for the controller to start each job, for
  each job's Snakemake to parse the workflow, and for the executor plugin's status checks
  (5 s at first, then 10 s more after every check that finds no job finished). On the
  2-core reference machine it took about 300 s, of which the tiny workflow's own work is
  about 35 s; run after the rest of the suite, that wait was half of ``make test``.

When a selected test needs one of them, ``tests/conftest.py`` starts it as the session
starts, and the tests wait for the process and check what it did exactly as before: the
same commands, the same assertions. A run no selected test needs is never started. The runs
(and the test cluster's jobs) are niced: the tests in the foreground keep their core.
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
#: Wall-clock limit of a whole run, from its start.
RUN_TIMEOUT_S = 900
#: The real-Slurm test's node id: the session starts its run early only when it is selected.
SLURM_TEST_ID = "tests/workflow/test_slurm.py::test_the_workflow_runs_through_real_slurm"
#: The test that compares two clean runs: the second starts early only when it is selected.
SECOND_RUN_TEST_ID = ("tests/workflow/test_reproducibility.py::"
                      "test_two_clean_runs_give_byte_identical_results")


class BackgroundRun:
    """``cmd`` running in ``workdir``, its output in files beside it (``<workdir>.stdout``,
    ``.stderr``: a pipe could fill up while nobody reads it, and the working directory holds
    only what the run makes)."""

    def __init__(self, cmd: list[str], workdir: Path, env: dict[str, str] | None = None,
                 nice: int = 0):
        self.cmd, self.workdir = list(cmd), Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._paths = [self.workdir.with_name(self.workdir.name + s)
                       for s in (".stdout", ".stderr")]
        self._out = open(self._paths[0], "w")
        self._err = open(self._paths[1], "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, cwd=self.workdir, env=env, stdout=self._out,
                                     stderr=self._err, start_new_session=True,
                                     preexec_fn=(lambda: os.nice(nice)) if nice else None)
        self.elapsed_s: float | None = None
        self._result: subprocess.CompletedProcess | None = None

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
        outputs = [path.read_text(errors="replace") for path in self._paths]
        rc = self.proc.returncode if not note else -9
        self._result = subprocess.CompletedProcess(self.cmd, rc, outputs[0],
                                                   outputs[1] + note)
        return self._result

    def stop(self) -> None:
        """Kill the run and its children, if it still runs."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=60)


# ------------------------------------------------------------------------- the tiny run
def tiny_command(workdir: Path, *args: str, config: Path = TINY, cores: int = 2) -> list[str]:
    """``snakemake`` on the repository's Snakefile, with ``workdir`` as working directory,
    on ``cores`` cores."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(workdir), "--configfile", str(config), "--cores", str(cores),
            "--nolock", *args]


#: Niceness of the background runs (and of the test cluster's jobs): the tests in the
#: foreground come first, the runs take the CPU they leave.
BACKGROUND_NICE = 10


def start_tiny_run(workdir: Path, cores: int = 1) -> BackgroundRun:
    """``all`` on the tiny config in ``workdir``, on ``cores`` cores (one by default: the
    other is the unit tests'; the results do not depend on it, and the reproducibility
    tests compare a 1-core run with a 2-core one byte for byte), niced."""
    return BackgroundRun(tiny_command(workdir, "all", cores=cores), workdir,
                         nice=BACKGROUND_NICE)


# ------------------------------------------------------------------- the real-Slurm run
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


def start_slurm_run(cluster, workdir: Path, *args: str, config: Path = TINY) -> BackgroundRun:
    """``slurm_command(*args)`` run from ``workdir`` as a user would, with the cluster's
    SLURM_CONF in the environment; without ``args``, the whole tiny workflow: the
    profile's default resources given again with the partition (on the command line,
    ``--default-resources`` replaces the profile's whole set), status checks from 5 s on
    (speed only), target ``all``."""
    if not args:
        defaults = {**profile()["default-resources"], "slurm_partition": cluster.PARTITION}
        args = ("--default-resources", *(f"{k}={v}" for k, v in defaults.items()),
                "--slurm-init-seconds-before-status-checks", "5", "all")
    return BackgroundRun(slurm_command(*args, config=config), workdir, env=cluster.env,
                         nice=BACKGROUND_NICE)
