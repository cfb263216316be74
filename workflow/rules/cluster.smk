# Checks on cluster submission, made once the DAG is built and before any job is submitted
# (Snakemake's onstart hook: the executor is only known then; not run for dry-runs).
# The only onstart handler of the workflow: add other start checks to this one.
import subprocess


# Light rules run where Snakemake runs, not as cluster jobs: each reads tables, JSON or the
# stimuli's paths and takes a second or two (Snakemake benchmark and job logs of the demo
# run: 0.1-2.1 CPU-s), while a cluster job waits for the queue, starts a Snakemake of its own
# to parse the workflow (2-3 CPU-s) and is seen finished only at the executor's next status
# check. Six of them form the chain after the per-track evaluation (evaluate, the WAET
# export, the simulated panel, the import and the statistics), which on the test cluster
# cost 20 s per link. Local runs are unaffected.
localrules:
    corpus_overview,
    predict_genres,
    render_index,
    evaluate,
    export_waet,
    simulate_listeners,
    import_ratings,
    analyse_ratings,


def partition_gpus(partition):
    """Whether the Slurm ``partition`` ('' = the default partition) has GPU nodes (its
    nodes' GRES name a gpu); None when sinfo cannot tell."""
    cmd = ["sinfo", "--noheader", "--format=%P %G"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    rows = [line.split(None, 1) for line in out.stdout.splitlines() if line.strip()]
    rows = [(p, g[0] if g else "") for p, *g in rows]
    if partition:
        chosen = [gres for name, gres in rows if name.rstrip("*") == partition]
    else:
        chosen = [gres for name, gres in rows if name.endswith("*")]
    if not chosen:
        return None  # an unknown partition: sbatch says so itself
    return any("gpu" in gres for gres in chosen)


def check_slurm_gpu_partition():
    """``train_model`` asks Slurm for ``train.gpus`` GPUs (``resources: gpu``; none when
    0). A partition without GPUs rejects such a job at sbatch ("Invalid generic resource
    (gres) specification" or "Requested node configuration is not available"), i.e. only
    after everything upstream of training has run; say so before anything is submitted."""
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm":
        return
    settings = workflow.executor_settings
    if getattr(settings, "partition_config", None) or os.environ.get("SNAKEMAKE_SLURM_PARTITIONS"):
        return  # the plugin picks a partition that fits, GPUs included
    train = [j for j in workflow.dag.needrun_jobs() if j.rule.name == "train_model"]
    if not train:
        return
    gpus = train[0].resources.get("gpu") or 0
    if not gpus:
        return
    partition = str(train[0].resources.get("slurm_partition") or "")
    if partition_gpus(partition) is not False:
        return
    where = f"partition '{partition}'" if partition else "the default partition"
    raise WorkflowError(
        f"train.gpus is {gpus}: each train_model job asks Slurm for {gpus} GPU(s), but "
        f"{where} has no GPUs (sinfo shows no gpu GRES there), so sbatch would reject "
        "training after all the stages before it have run. Either name a partition with "
        "GPUs for training (profiles/slurm/config.yaml, set-resources: train_model: "
        'slurm_partition: "gpu"), or train on CPU with train.gpus: 0 in your config file '
        "(README: Running on a cluster)."
    )


onstart:
    check_slurm_gpu_partition()
