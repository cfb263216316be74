"""Workflow runs that the test session starts at its beginning, in the background.

The unit tests run on one core. Workflow runs that later tests need can use the other one
meanwhile:

* **the tiny run** (``tiny_run``, tests/workflow/conftest.py): ``all`` on the tiny config,
  which a dozen workflow tests read; about 35 s of work.
* **a second tiny run** on 2 cores, which the reproducibility test compares with the first;
* **the killed-and-resumed run** (:class:`KilledRun`) and **the separation workflow**
  (tests/workflow/test_separation.py);
* **real WAET saves** given to a copy of the tiny run once it has ended
  (:class:`RealSavesRun`, tests/workflow/test_listening_flow.py);
* **the run through a stand-in cluster executor** (:func:`start_cluster_run`,
  tests/workflow/test_reproducibility.py), only where the real-Slurm run cannot take its
  place: every job a process of its own, with Snakemake's latency wait and status checks;
  about 160 s when the test ran it after the rest of the suite, most of it waiting;
* **the real-Slurm run** (tests/workflow/test_slurm.py): the same workflow through real
  sbatch. It spends most of its time waiting: for the controller to start each job, for
  each job's Snakemake to parse the workflow, and for the executor plugin's status checks
  (5 s at first, then 10 s more after every check that finds no job finished). On the
  2-core reference machine it took about 300 s, of which the tiny workflow's own work is
  about 35 s; run after the rest of the suite, that wait was half of ``make test``. (About
  240 s since the eight light rules run locally, workflow/rules/cluster.smk.)

When a selected test needs one of them, ``tests/conftest.py`` starts it as the session
starts, and the tests wait for the process and check what it did exactly as before: the
same commands, the same assertions. A run no selected test needs is never started. The runs
(and the test cluster's jobs) are niced: the tests in the foreground keep their core. Each
run is a session of its own, and where the kernel shares the CPU between sessions first, a
process's own niceness did nothing against the foreground tests: so the run's session is
niced as a whole too (tests/workflow/priority.py), but for the runs through a cluster
executor, long chains mostly waiting (:func:`start_slurm_run`, :func:`start_cluster_run`).
"""

from __future__ import annotations

import abc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.workflow.priority import nice_session

PROFILE = REPO / "profiles/slurm"
TINY = REPO / "tests/workflow/config_tiny.yaml"
#: Wall-clock limit of a whole run, from its start.
RUN_TIMEOUT_S = 900
#: The real-Slurm test's node id: the session starts its run early only when it is selected.
SLURM_TEST_ID = "tests/workflow/test_slurm.py::test_the_workflow_runs_through_real_slurm"
#: The test that compares two clean runs: the second starts early only when it is selected.
SECOND_RUN_TEST_ID = ("tests/workflow/test_reproducibility.py::"
                      "test_two_clean_runs_give_byte_identical_results")
#: The test of a killed and resumed run: it starts early only when the test is selected.
KILLED_RUN_TEST_ID = ("tests/workflow/test_reproducibility.py::"
                      "test_a_killed_run_resumes_to_the_same_bytes")


class BackgroundRun:
    """``cmd`` running in ``workdir``, its output in files beside it (``<workdir>.stdout``,
    ``.stderr``: a pipe could fill up while nobody reads it, and the working directory holds
    only what the run makes). Niced by ``nice``, and its session with it unless
    ``nice_whole_session`` is false (tests/workflow/priority.py)."""

    def __init__(self, cmd: list[str], workdir: Path, env: dict[str, str] | None = None,
                 nice: int = 0, nice_whole_session: bool = True):
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
        if nice_whole_session:
            nice_session(self.proc.pid, nice)  # its own session: niced as a whole
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

    def succeeded(self) -> Path:
        """The working directory once the run has ended with exit status 0; an
        AssertionError with the run's output otherwise."""
        proc = self.result()
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(self.cmd)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
        return self.workdir

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
#: foreground come first, the runs take the CPU they leave; the tiny run, which the first
#: workflow test needs, before the others; the separation workflow, which the tests need
#: last, after them.
TINY_NICE, BACKGROUND_NICE, LATE_NICE = 5, 10, 15


def start_tiny_run(workdir: Path, cores: int = 1) -> BackgroundRun:
    """``all`` on the tiny config in ``workdir``, on ``cores`` cores (one by default: the
    other is the unit tests'; the results do not depend on it, and the reproducibility
    tests compare a 1-core run with a 2-core one byte for byte), niced."""
    return BackgroundRun(tiny_command(workdir, "all", cores=cores), workdir,
                         nice=TINY_NICE if cores == 1 else BACKGROUND_NICE)


# ------------------------------------------------- the run through a stand-in executor
#: The test of a run through snakemake-executor-plugin-cluster-generic (a local submit
#: script standing in for sbatch): its run starts early only when the test is selected and
#: the real-Slurm test cannot cover it (:func:`cluster_stand_in_needed`).
CLUSTER_TEST_ID = ("tests/workflow/test_reproducibility.py::"
                   "test_the_workflow_runs_through_a_cluster_executor")
#: The stand-in for sbatch that the executor plugin calls.
LOCAL_SUBMIT = REPO / "tests/workflow/cluster/local_submit.sh"
#: Its limit, from its start: every job is a process of its own, with a latency wait.
CLUSTER_RUN_TIMEOUT_S = 1500


def cluster_stand_in_needed() -> bool:
    """Whether the stand-in executor's test runs here: only where a real one-node Slurm
    cannot (Slurm not installed, or not root), the real-Slurm test covering it elsewhere."""
    from tests.workflow.slurm_cluster import missing_binaries

    return bool(missing_binaries()) or os.geteuid() != 0


def start_cluster_run(workdir: Path, nice: int = BACKGROUND_NICE) -> BackgroundRun:
    """``all`` on the tiny config in ``workdir``, every job submitted through
    snakemake-executor-plugin-cluster-generic to :data:`LOCAL_SUBMIT`, which starts it as a
    process of its own and logs it in ``<workdir>/cluster_logs`` (VOCALMIX_CLUSTER_LOGS);
    niced by ``nice``, but not its session as a whole: like the real-Slurm run that it
    stands in for (:func:`start_slurm_run`), a long chain mostly waiting. Wait with
    ``result(CLUSTER_RUN_TIMEOUT_S)``."""
    workdir = Path(workdir)
    env = {**os.environ, "VOCALMIX_CLUSTER_LOGS": str(workdir / "cluster_logs")}
    cmd = tiny_command(workdir, "all", "--executor", "cluster-generic",
                       "--cluster-generic-submit-cmd", str(LOCAL_SUBMIT), "--jobs", "4",
                       "--latency-wait", "10")
    return BackgroundRun(cmd, workdir, env=env, nice=nice, nice_whole_session=False)


# --------------------------------------------------- steps run in a thread of the session
class ThreadedRun(abc.ABC):
    """Steps that start when the session starts and run in a thread (:meth:`_run`, given
    by a subclass; they record what they observe in :attr:`observed`), so that they use the
    second core while other tests run. :meth:`result` waits for them and gives
    :attr:`observed`, or raises what they raised; :meth:`stop` kills the command they are
    running (:attr:`_proc`, started with :meth:`_preexec`: niced) when the session ends."""

    #: what the steps are, for the timeout's message
    label = "background run"

    def __init__(self, workdir: Path, nice: int, timeout_s: float = RUN_TIMEOUT_S):
        self.workdir, self.nice, self.timeout_s = Path(workdir), nice, timeout_s
        self.observed: dict = {}
        self._proc: subprocess.Popen | None = None
        self._error: BaseException | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._guarded, name=self.label, daemon=True)
        self._thread.start()

    def _preexec(self) -> None:
        if self.nice:
            os.nice(self.nice)

    @abc.abstractmethod
    def _run(self) -> None:
        """The steps, run in the thread; each subclass has its own."""

    def _guarded(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # given to the test by result()
            self._error = exc

    def result(self) -> dict:
        """What the steps observed; waits for the thread; its exception, if it raised one."""
        self._thread.join(timeout=2 * self.timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"the {self.label} in {self.workdir} did not end")
        if self._error is not None:
            raise self._error
        return self.observed

    def stop(self) -> None:
        """Kill what still runs (the session is ending)."""
        self._stopped.set()
        if self._proc is not None and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._thread.join(timeout=120)


# ------------------------------------------------------- real WAET saves after the tiny run
#: The test of real saves replacing the simulated panel: its run starts early only when the
#: test is selected.
SAVES_TEST_ID = ("tests/workflow/test_listening_flow.py::"
                 "test_real_saves_replace_the_simulated_panel")


class RealSavesRun(ThreadedRun):
    """Real WAET saves given to a copy of the tiny run, in a thread that starts when the
    tiny run (``tiny``: a :class:`BackgroundRun`, or the folder of a finished one) has
    ended: the copy is marked up to date (``snakemake --touch all``), three simulated sessions are turned into "real" saves (a
    browser's navigator, new keys) beside an abandoned session and a file that is not a
    WAET result, then ``snakemake -n all`` and ``snakemake all`` run. :meth:`result` gives
    what each step printed (``work``: the copy; ``touch``, ``dry``, ``run``: each step's
    CompletedProcess), for the test to check; the steps are those the test ran itself
    after the tiny run, only earlier, on the second core."""

    label = "real-saves run"

    def __init__(self, tiny: BackgroundRun | Path, workdir: Path,
                 nice: int = BACKGROUND_NICE, timeout_s: float = RUN_TIMEOUT_S):
        self.tiny = tiny
        super().__init__(workdir, nice, timeout_s)

    def _snakemake(self, *args: str) -> subprocess.CompletedProcess:
        cmd = tiny_command(self.workdir, *args)
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, start_new_session=True,
                                      preexec_fn=self._preexec)
        nice_session(self._proc.pid, self.nice)
        out, err = self._proc.communicate(timeout=self.timeout_s)
        return subprocess.CompletedProcess(cmd, self._proc.returncode, out, err)

    def _run(self) -> None:
        import shutil
        import xml.etree.ElementTree as ET

        self.observed["work"] = self.workdir
        tiny = self.tiny if isinstance(self.tiny, Path) else self.tiny.succeeded()
        if self._stopped.is_set():
            return
        shutil.copytree(tiny, self.workdir, symlinks=True)
        # the copy up to date, so that code edited since the tiny run (other work in the
        # same checkout) reruns nothing: only the new results below should
        self.observed["touch"] = self._snakemake("--touch", "all")
        results = self.workdir / "listening_test" / "results"
        results.mkdir(parents=True, exist_ok=True)
        simulated = sorted((self.workdir / "results/listening/simulated").glob("complete-*"))
        for i, f in enumerate(simulated[:3]):
            root = ET.parse(f).getroot()
            root.set("key", f"{i:032x}")
            root.find("navigator/platform").text = "Linux x86_64"
            ET.ElementTree(root).write(results / f"save-{i:032x}.xml")
        (results / "save-abandoned.xml").write_text('<waetresult key="ab" state="update"/>')
        (results / "notes.xml").write_text("<notes>not a result</notes>")
        if self._stopped.is_set():
            return
        self.observed["dry"] = self._snakemake("-n", "all")
        if self._stopped.is_set():
            return
        self.observed["run"] = self._snakemake("all")


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
    (speed only), target ``all``.

    Neither its session nor its jobs' (each a session of its own, started by slurmd) are
    niced as a whole (tests/workflow/priority.py): of the background runs it is the longest
    chain, mostly waiting (for each job to start and parse the workflow, for the status
    checks), its CPU in short bursts. With its session and its jobs' niced as a whole (or
    its jobs' alone), it ended last, its waits then left with nothing beside them: on the
    2-core machine, the tests waited 39 s (33 s) for it at the end with under one core busy,
    388 s (391 s) in all against 337 s with neither niced."""
    if not args:
        defaults = {**profile()["default-resources"], "slurm_partition": cluster.PARTITION}
        args = ("--default-resources", *(f"{k}={v}" for k, v in defaults.items()),
                "--slurm-init-seconds-before-status-checks", "5", "all")
    return BackgroundRun(slurm_command(*args, config=config), workdir, env=cluster.env,
                         nice=BACKGROUND_NICE, nice_whole_session=False)


# ------------------------------------------------------------- the killed and resumed run
class KilledRun(ThreadedRun):
    """The tiny workflow started in ``workdir`` (Snakemake's lock on, 2 cores), killed with
    SIGKILL, it and all its jobs, as soon as the features stage has written a file, then
    resumed with the README's command, ``make resume``; in a thread, so that it can run
    while other tests do. :meth:`result` gives what was observed at each step, for the test
    to check: ``running_when_killed``, ``summary_before_resume``, ``locks_left``, ``resume``
    (the CompletedProcess of ``make resume``), ``leftovers``."""

    label = "killed-and-resumed run"

    def __init__(self, workdir: Path, nice: int = BACKGROUND_NICE,
                 timeout_s: float = RUN_TIMEOUT_S):
        Path(workdir).mkdir(parents=True, exist_ok=True)
        super().__init__(workdir, nice, timeout_s)

    def _run(self) -> None:
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(self.workdir), "--configfile", str(TINY), "--cores", "2",
               "all"]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True,
                                      preexec_fn=self._preexec)
        nice_session(self._proc.pid, self.nice)
        deadline = time.monotonic() + 600
        features = self.workdir / "results/features"
        while (time.monotonic() < deadline and self._proc.poll() is None
               and not self._stopped.is_set()):
            if list(features.glob("*.json")):
                break
            time.sleep(0.2)
        self.observed["running_when_killed"] = self._proc.poll() is None
        if self.observed["running_when_killed"]:
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(timeout=60)
        if self._stopped.is_set():
            return
        self.observed["summary_before_resume"] = (
            self.workdir / "results/evaluation/summary.tsv").exists()
        locks = self.workdir / ".snakemake/locks"
        self.observed["locks_left"] = sorted(p.name for p in locks.iterdir()) \
            if locks.is_dir() else []
        self.observed["resume"] = subprocess.run(
            ["make", "-C", str(REPO), "resume", f"VENV={sys.prefix}", "JOBS=2",
             f"SMK_ARGS=--directory {self.workdir} --configfile {TINY}"],
            capture_output=True, text=True, timeout=self.timeout_s,
            preexec_fn=self._preexec)
        self.observed["leftovers"] = [str(p) for p in (self.workdir / "results").rglob("*")
                                      if ".tmp" in p.name]
