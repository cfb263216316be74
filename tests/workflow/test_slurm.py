"""The SLURM profile against a real Slurm controller: a throw-away one-node cluster
(tests/workflow/slurm_cluster.py: munged, slurmctld, slurmd under a temporary directory),
the tiny workflow submitted with ``--profile profiles/slurm`` through real sbatch, and the
results byte-identical to the local run's.

The command is the README's for a one-node cluster without accounting: the profile as it
is, the partition named on the command line, ``--slurm-status-command squeue`` (no slurmdbd:
sacct sees no job finish). One more option is for speed only: status checks every 5 s
instead of the plugin's 40 s (it changes when Snakemake notices a finished job, nothing
that is submitted). The node declares the largest job the profile asks for (8 CPUs for
ingest; the largest memory request), as a real cluster node would have; the jobs share this
machine's cores.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.workflow.background import RUN_TIMEOUT_S, start_slurm_run
from tests.workflow.conftest import TINY
from tests.workflow.slurm_cluster import OneNodeSlurm
from tests.workflow.test_reproducibility import assert_same_results

pytestmark = pytest.mark.workflow

#: The rules that run where Snakemake runs, not through sbatch (``localrules``,
#: workflow/rules/cluster.smk).
LOCAL_RULES = {"corpus_overview", "predict_genres", "render_index", "evaluate", "export_waet",
               "simulate_listeners", "import_ratings", "analyse_ratings"}


def snakemake_slurm(slurm: OneNodeSlurm, workdir: Path, *args: str, config: Path = TINY,
                    timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    """``snakemake --profile profiles/slurm`` run from ``workdir`` as a user would, with the
    cluster's SLURM_CONF in the environment. A timeout is a failed run, not an exception."""
    return start_slurm_run(slurm, workdir, *args, config=config).result(timeout)


def report(slurm: OneNodeSlurm, proc: subprocess.CompletedProcess, workdir: Path) -> str:
    """What to read when the run failed: snakemake's output, the queue, the daemons'
    logs and the Slurm logs of failed jobs."""
    queue = slurm.run("squeue", "--states=all", "--noheader", "--format=%i %j %T %r",
                      check=False).stdout
    job_logs = sorted((workdir / ".snakemake/slurm_logs").rglob("*.log"))[-3:]
    tails = "\n".join(
        f"--- {p.relative_to(workdir)} (error lines, then its end) ---\n"
        + "\n".join(line for line in p.read_text().splitlines()
                    if "error" in line.lower() or "fatal" in line.lower())[-3000:]
        + f"\n...\n{p.read_text()[-800:]}" for p in job_logs)
    return (f"exit status {proc.returncode}\n--- snakemake stdout ---\n{proc.stdout[-3000:]}"
            f"\n--- snakemake stderr ---\n{proc.stderr[-6000:]}\n--- squeue ---\n{queue}\n"
            f"{slurm.log_tails(30)}\n{tails}")


def test_the_workflow_runs_through_real_slurm(tiny_run, slurm, slurm_run, tmp_path):
    """Every cluster job through sbatch on a real controller (the light rules run where
    Snakemake runs), with the profile's resources and
    the partition named as the README says for the command line (it replaces the
    profile's whole default-resources, so they are given again): same bytes as locally.

    The run itself started with the session (``slurm_run``, tests/workflow/background.py),
    so that its waits overlap the other tests; started here where the session did not."""
    run = slurm_run if slurm_run is not None else start_slurm_run(slurm, tmp_path)
    proc = run.result()
    assert proc.returncode == 0, report(slurm, proc, run.workdir)
    submitted = [line for line in proc.stderr.splitlines()
                 if "has been submitted with SLURM jobid" in line]
    print(f"real Slurm run: {len(submitted)} jobs through sbatch in {run.elapsed_s:.0f} s")
    # every job ran (its header says how: "rule X:" as a cluster job, "localrule X:" where
    # Snakemake runs), each cluster job went through sbatch, and only the workflow's light
    # rules (workflow/rules/cluster.smk) and the target ran locally
    headers = re.findall(r"^(local)?(?:rule|checkpoint) (\w+):$", proc.stderr, flags=re.M)
    remote = Counter(name for local, name in headers if not local)
    local = Counter(name for local, name in headers if local)
    through_sbatch = Counter(re.search(r"/rule_(\w+)/", line).group(1) for line in submitted)
    assert through_sbatch == remote, report(slurm, proc, run.workdir)
    assert set(local) == LOCAL_RULES | {"all"}, (sorted(local), report(slurm, proc, run.workdir))
    # the per-track stages, the dataset and training (28 cluster jobs on the tiny config)
    assert sum(remote.values()) >= 28, remote
    # training too, on the CPU partition: train.gpus is 0 in the tiny config, so no --gpus
    assert through_sbatch["train_model"] == 4, submitted
    assert_same_results(tiny_run, run.workdir)


def test_gpus_without_a_gpu_partition_stop_before_any_submission(slurm, tmp_path):
    """train.gpus: 1 and no partition for train_model: a clear error when the DAG is built,
    not an sbatch rejection (or a job that never starts) after the upstream stages ran."""
    config = yaml.safe_load(TINY.read_text())
    config["train"]["gpus"] = 1
    cfg = tmp_path / "gpus.yaml"
    cfg.write_text(yaml.safe_dump(config))
    proc = snakemake_slurm(slurm, tmp_path, "all", config=cfg, timeout=300)
    assert proc.returncode != 0, report(slurm, proc, tmp_path)
    assert "train.gpus is 1" in proc.stderr and "partition with GPUs" in proc.stderr, \
        report(slurm, proc, tmp_path)
    assert "submitted with SLURM jobid" not in proc.stderr
    queue = slurm.run("squeue", "--noheader", "--format=%i").stdout.strip()
    assert not queue, f"jobs were submitted: {queue}"
