"""Shared fixtures: a seeded RNG, the real-data folder, repository paths."""

from __future__ import annotations

import os
from pathlib import Path

# One BLAS/OpenMP thread per test process, and for the commands the tests start: the suite
# runs on 2 cores beside the real-Slurm run (below), and OpenBLAS's spare threads, which
# wait spinning, then took turns with the work itself (one streaming-features fixture went
# from 4 to 47 s). The CLI and Snakemake's jobs set their own thread counts.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings: OpenBLAS reads them on load)
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "data" / "real"


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(seed=440)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``../shared/data/real`` beside the project; tests using it skip only when it is absent."""
    if not REAL.is_dir():
        pytest.skip("../shared/data/real is absent")
    return REAL


# ----------------------------------------------------------------- background workflow runs
# The tiny workflow run that a dozen workflow tests read, and the real-Slurm run of
# tests/workflow/test_slurm.py, start with the session when a selected test needs them,
# and use the second core while the unit tests run (tests/workflow/background.py).
_NEEDS_TINY_RUN = pytest.StashKey[bool]()
_NEEDS_SECOND_RUN = pytest.StashKey[bool]()
_NEEDS_SLURM_RUN = pytest.StashKey[bool]()
_NEEDS_KILLED_RUN = pytest.StashKey[bool]()
_NEEDS_SEPARATION_RUN = pytest.StashKey[bool]()
_NEEDS_SAVES_RUN = pytest.StashKey[bool]()
_NEEDS_CLUSTER_RUN = pytest.StashKey[bool]()


#: Workflow tests that need no background run: they go first among the workflow tests.
_NEEDS_NO_RUN = ("tests/workflow/test_wheel.py::",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The workflow tests that need no background run (the wheel's: a build, a venv and a
    call of every command, about 12 s) run right after the unit tests, before the first
    test that may wait for a run: when a run is still going then, they take that wait
    instead of adding their time after it. The other tests keep their order."""
    alone = [item for item in items if item.nodeid.startswith(_NEEDS_NO_RUN)]
    if not alone:
        return
    rest = [item for item in items if not item.nodeid.startswith(_NEEDS_NO_RUN)]
    at = next((k for k, item in enumerate(rest)
               if item.nodeid.startswith("tests/workflow/")), len(rest))
    items[:] = rest[:at] + alone + rest[at:]


def pytest_collection_finish(session: pytest.Session) -> None:
    from tests.workflow.background import (CLUSTER_TEST_ID, KILLED_RUN_TEST_ID, SAVES_TEST_ID,
                                           SECOND_RUN_TEST_ID, SLURM_TEST_ID,
                                           cluster_stand_in_needed)

    ids = {item.nodeid for item in session.items}
    session.stash[_NEEDS_TINY_RUN] = any("tiny_run" in getattr(item, "fixturenames", ())
                                         for item in session.items)
    session.stash[_NEEDS_SECOND_RUN] = SECOND_RUN_TEST_ID in ids
    session.stash[_NEEDS_SLURM_RUN] = SLURM_TEST_ID in ids
    session.stash[_NEEDS_KILLED_RUN] = KILLED_RUN_TEST_ID in ids
    session.stash[_NEEDS_SAVES_RUN] = SAVES_TEST_ID in ids
    session.stash[_NEEDS_CLUSTER_RUN] = CLUSTER_TEST_ID in ids and cluster_stand_in_needed()
    session.stash[_NEEDS_SEPARATION_RUN] = any(
        "separation_run" in getattr(item, "fixturenames", ()) for item in session.items)


@pytest.fixture(scope="session")
def slurm():
    """A throw-away one-node Slurm cluster whose node declares the largest job of the SLURM
    profile (tests/workflow/slurm_cluster.py); skips where Slurm is not installed or the
    cluster needs root."""
    from tests.workflow.background import largest_job, profile
    from tests.workflow.slurm_cluster import OneNodeSlurm, SlurmError, missing_binaries

    missing = missing_binaries()
    if missing:
        pytest.skip(f"Slurm is not installed (no {', '.join(missing)}): "
                    "apt-get install slurm-wlm munge (.ci/run does)")
    from tests.workflow.background import BACKGROUND_NICE

    cpus, mem = largest_job(profile())
    cluster = OneNodeSlurm(cpus=cpus, mem_mb=mem, job_nice=BACKGROUND_NICE)
    try:
        cluster.start()
    except SlurmError as exc:
        if "must run as root" in str(exc):
            pytest.skip(f"a throw-away Slurm cluster needs root: {exc}")
        pytest.fail(f"the one-node Slurm cluster did not start: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


def _started(request: pytest.FixtureRequest, needed: pytest.StashKey[bool], start):
    """The body of a background-run fixture: ``start()`` when the session needs the run
    (``needed``), stopped when the session ends; None when it is not needed or ``start``
    gives None."""
    run = start() if request.session.stash.get(needed, False) else None
    try:
        yield run
    finally:
        if run is not None:
            run.stop()


@pytest.fixture(scope="session", autouse=True)
def tiny_run_started(request: pytest.FixtureRequest,
                     tmp_path_factory: pytest.TempPathFactory):
    """The run of ``all`` on the tiny config behind ``tiny_run``, started with the session
    when a selected test reads it (None otherwise)."""
    from tests.workflow.background import start_tiny_run

    yield from _started(request, _NEEDS_TINY_RUN,
                        lambda: start_tiny_run(tmp_path_factory.mktemp("tiny_run")))


@pytest.fixture(scope="session", autouse=True)
def saves_run(request: pytest.FixtureRequest, tiny_run_started,
              tmp_path_factory: pytest.TempPathFactory):
    """Real WAET saves given to a copy of the tiny run once it has ended
    (tests/workflow/background.py, ``RealSavesRun``), started with the session when its
    test is selected and the tiny run started with it (None otherwise)."""
    from tests.workflow.background import RealSavesRun

    def start():
        if tiny_run_started is None:
            return None
        return RealSavesRun(tiny_run_started, tmp_path_factory.mktemp("saves_run") / "run")

    yield from _started(request, _NEEDS_SAVES_RUN, start)


@pytest.fixture(scope="session", autouse=True)
def second_tiny_run(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory):
    """A second run of ``all`` on the tiny config, on 2 cores, started with the session when
    the test comparing two clean runs is selected (None otherwise)."""
    from tests.workflow.background import start_tiny_run

    yield from _started(request, _NEEDS_SECOND_RUN,
                        lambda: start_tiny_run(tmp_path_factory.mktemp("second_run"), cores=2))


@pytest.fixture(scope="session", autouse=True)
def killed_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The tiny run killed and resumed (tests/workflow/background.py, ``KilledRun``),
    started with the session when its test is selected (None otherwise)."""
    from tests.workflow.background import KilledRun

    yield from _started(request, _NEEDS_KILLED_RUN,
                        lambda: KilledRun(tmp_path_factory.mktemp("killed_run")))


@pytest.fixture(scope="session", autouse=True)
def separation_run_started(request: pytest.FixtureRequest,
                           tmp_path_factory: pytest.TempPathFactory):
    """The separation workflow of tests/workflow/test_separation.py, started with the session
    when one of its tests is selected (None otherwise)."""
    def start():
        from tests.workflow.test_separation import start_separation_run

        return start_separation_run(tmp_path_factory.mktemp("separation_run"))

    yield from _started(request, _NEEDS_SEPARATION_RUN, start)


@pytest.fixture(scope="session", autouse=True)
def cluster_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The tiny workflow through a stand-in cluster executor
    (tests/workflow/background.py, ``start_cluster_run``), started with the session when its
    test is selected and runs here, where the real-Slurm test cannot (None otherwise)."""
    from tests.workflow.background import start_cluster_run

    yield from _started(request, _NEEDS_CLUSTER_RUN,
                        lambda: start_cluster_run(tmp_path_factory.mktemp("cluster_run")))


@pytest.fixture(scope="session", autouse=True)
def slurm_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The real-Slurm run of the whole tiny workflow, started with the session when its test
    is selected (None otherwise, or where the cluster cannot start: the test itself then
    skips or fails with the reason)."""
    from tests.workflow.background import start_slurm_run

    def start():
        try:
            cluster = request.getfixturevalue("slurm")
        except (Exception, pytest.skip.Exception, pytest.fail.Exception):
            return None  # the same outcome reaches the test when it asks for the cluster
        return start_slurm_run(cluster, tmp_path_factory.mktemp("slurm_run"))

    yield from _started(request, _NEEDS_SLURM_RUN, start)
