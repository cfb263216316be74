"""Reproducible at any scale: same bytes from the same config, clean resume after a kill,
exactly the right reruns after a code change, and a run through a cluster executor."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.workflow.background import (CLUSTER_RUN_TIMEOUT_S, KilledRun,
                                       cluster_stand_in_needed, start_cluster_run)
from tests.workflow.conftest import snakemake

pytestmark = pytest.mark.workflow

# Files that legitimately differ between runs: timings and logs, Snakemake's own state,
# and the HTML report (it embeds run times).
VOLATILE_DIRS = {"logs", "benchmarks"}


def result_digests(root: Path) -> dict[str, str]:
    out = {}
    base = root / "results"
    for p in sorted(base.rglob("*")):
        rel = p.relative_to(base)
        if not p.is_file() or rel.parts[0] in VOLATILE_DIRS or p.name == "report.html":
            continue
        out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    for sub in ("listening_test",):  # generated outside results/ (the WAET export)
        for p in sorted((root / sub).rglob("*")) if (root / sub).exists() else []:
            if p.is_file():
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_same_results(a: Path, b: Path) -> None:
    da, db = result_digests(a), result_digests(b)
    assert len(da) > 50
    missing = sorted(set(da) ^ set(db))
    assert not missing, f"files in one run only: {missing[:20]}"
    differ = sorted(k for k in da if da[k] != db[k])
    assert not differ, f"{len(differ)} files differ, e.g. {differ[:20]}"


def test_two_clean_runs_give_byte_identical_results(tiny_run, second_tiny_run, tmp_path):
    """Two runs of the tiny workflow from nothing, one on 1 core and one on 2, give the same
    bytes (the second run started with the session, tests/workflow/background.py; here where
    it did not)."""
    if second_tiny_run is None:
        snakemake(tmp_path, "all")
        workdir = tmp_path
    else:
        workdir = second_tiny_run.succeeded()
    assert_same_results(tiny_run, workdir)


def test_a_killed_run_resumes_to_the_same_bytes(tiny_run, killed_run, tmp_path):
    """SIGKILL snakemake and all its jobs in the middle of the features stage, then
    resume with the README's command, ``make resume`` (it removes the stale lock only when
    no snakemake runs there, and reruns with --rerun-incomplete): the results equal an
    uninterrupted run's. The run, the kill and the resume started with the session
    (``killed_run``, tests/workflow/background.py); here where they did not."""
    run = killed_run if killed_run is not None else KilledRun(tmp_path, nice=0)
    observed = run.result()
    assert observed["running_when_killed"], "the run ended before it could be interrupted"
    assert not observed["summary_before_resume"]
    # the killed run left its lock: a plain rerun would stop with a LockException
    assert observed["locks_left"]
    resume = observed["resume"]
    assert resume.returncode == 0, f"{resume.stdout[-4000:]}\n{resume.stderr[-6000:]}"
    # no half-written file under a final name: outputs are written to a temporary name
    # and renamed, so every file present is complete or a leftover temporary
    assert not observed["leftovers"], observed["leftovers"][:5]
    assert_same_results(tiny_run, run.workdir)


def _dry_run_jobs(workdir: Path) -> dict[str, int]:
    """rule -> job count that ``snakemake -n all`` would run."""
    out = snakemake(workdir, "-n", "all").stdout
    if "Nothing to be done" in out:
        return {}
    lines = out[out.index("Job stats:"):].splitlines()[3:]
    jobs = {}
    for line in lines:
        parts = line.split()
        if not parts or parts[0] == "total":
            break
        jobs[parts[0]] = int(parts[1])
    return jobs


def _edited(module: str):
    """Context: a comment line appended to the module (a real code change: Snakemake
    compares the content of small inputs, so a bare touch is rightly not a change),
    the original bytes and mtime restored afterwards."""
    from contextlib import contextmanager

    @contextmanager
    def ctx():
        path = REPO / "workflow/scripts" / module
        st = path.stat()
        original = path.read_bytes()
        try:
            path.write_bytes(original + b"\n# edited by test_reproducibility\n")
            ahead = time.time_ns() + 60 * 10**9  # newer than every output of the run
            os.utime(path, ns=(st.st_atime_ns, ahead))
            yield
        finally:
            path.write_bytes(original)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return ctx()


# module -> the rules that must rerun (with their dependants); every other rule must not
REBUILDS = {
    "vocalmix/evaluation/objective.py": {"evaluate_track", "evaluate"},
    "vocalmix/models/train.py": {"train_model", "evaluate_models", "render", "render_index",
                          "export_waet", "evaluate_track", "evaluate"},
    # the temporary corrupted versions are remade by corrupt_extra (no WPE: not corrupt);
    # the renders import the data-driven mixer, which imports the dataset module
    "vocalmix/models/dataset.py": {"corrupt_extra", "build_dataset", "train_model",
                                   "evaluate_models", "excerpt", "render", "render_index",
                                   "export_waet", "evaluate_track", "evaluate"},
}


@pytest.mark.parametrize("module", sorted(REBUILDS))
def test_editing_one_module_reruns_its_stage_and_dependants_only(tiny_run, slurm_run,
                                                                cluster_run, module):
    if slurm_run is not None:  # its jobs import the package: edit no module while it runs
        slurm_run.result()
    if cluster_run is not None:  # the same for the stand-in executor's run
        cluster_run.result(CLUSTER_RUN_TIMEOUT_S)
    assert _dry_run_jobs(tiny_run) == {}
    with _edited(module):
        jobs = _dry_run_jobs(tiny_run)
    expected = REBUILDS[module] | DOWNSTREAM_OF_EVALUATION | {"all"}
    assert set(jobs) == expected, sorted(set(jobs) ^ expected)
    assert "make_demo_corpus" not in jobs and "ingest" not in jobs
    if module.endswith("train.py"):
        assert jobs["train_model"] == 4  # the four task models
        assert jobs["render"] == 1  # only data_driven of the one test track uses the models
    if module.endswith("dataset.py"):
        assert jobs["corrupt_extra"] == 4 and "corrupt" not in jobs  # every track's v1


# Rules that read the objective evaluation (the listening-test simulation and analysis).
DOWNSTREAM_OF_EVALUATION = {"simulate_listeners", "import_ratings", "analyse_ratings"}


def test_the_workflow_runs_through_a_cluster_executor(tiny_run, cluster_run, tmp_path):
    """Every job submitted through snakemake-executor-plugin-cluster-generic (a local
    submit script standing in for sbatch), each a separate process: same results.

    Where a real one-node Slurm can run (Slurm installed, root: CI installs it),
    tests/workflow/test_slurm.py checks the same through real sbatch and the SLURM profile,
    so this stand-in runs only where that one cannot (it would repeat a whole tiny run).
    The run started with the session (``cluster_run``, tests/workflow/background.py); here
    where it did not."""
    if not cluster_stand_in_needed():
        pytest.skip("the real-Slurm test (test_slurm.py) covers submission through an "
                    "executor plugin here")
    run = cluster_run if cluster_run is not None else start_cluster_run(tmp_path, nice=0)
    proc = run.result(CLUSTER_RUN_TIMEOUT_S)
    workdir = run.succeeded()
    # each job went through the submit script as its own process
    job_logs = list((workdir / "cluster_logs").glob("*.log"))
    assert len(job_logs) >= 20, proc.stderr[-2000:]
    assert_same_results(tiny_run, workdir)
