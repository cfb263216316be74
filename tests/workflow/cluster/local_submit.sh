#!/usr/bin/env bash
# A stand-in for sbatch/qsub in tests: snakemake-executor-plugin-cluster-generic calls it
# with the job script as the last argument; it starts the job as a separate background
# process (as a cluster node would) and prints the job id the executor tracks.
set -euo pipefail
jobscript="${!#}"
logdir="${VOCALMIX_CLUSTER_LOGS:-.}"
mkdir -p "$logdir"
nohup bash "$jobscript" > "$logdir/$(basename "$jobscript").log" 2>&1 < /dev/null &
echo "$!"
