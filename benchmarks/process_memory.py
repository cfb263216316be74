"""Peak memory of a benchmarked child process and its descendants, summed as Snakemake's
``benchmark:`` sums them (a job with worker processes is measured whole). Shared by the
memory benchmarks (``ingest_memory.py``, ``corpus_jobs_memory.py``, ``mir1k_adapter.py``),
with the CSV merge they write their rows with."""

from __future__ import annotations

import subprocess
import threading


def tree_rss_mib(proc) -> float:
    """RSS of a ``psutil.Process`` and its descendants, summed (MiB)."""
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # a worker that ended between the listing and the reading
            pass
    return total / 2**20


def peak_tree_rss_mib(popen: subprocess.Popen, interval: float = 0.1) -> float:
    """Largest :func:`tree_rss_mib` of a running process until it exits, sampled every
    ``interval`` s in a thread (the caller's process waits for it; returns after it ended)."""
    import psutil

    proc = psutil.Process(popen.pid)
    peak = 0.0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, tree_rss_mib(proc))
            except psutil.Error:  # the process itself has ended
                return
            done.wait(interval)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    popen.wait()
    done.set()
    watcher.join()
    return peak


def write_merged(path, rows: list[dict], columns, key: tuple[str, ...]) -> None:
    """Write ``rows`` to the CSV ``path`` with the rows already there whose ``key`` columns
    differ from every new row's (so runs of other labels or corpora stay side by side)."""
    import csv
    from pathlib import Path

    from vocalmix.tables import fixed, write_table

    path = Path(path)
    done = {tuple(str(r[k]) for k in key) for r in rows}
    old = []
    if path.exists():
        with open(path, newline="") as fh:
            old = [r for r in csv.DictReader(fh) if tuple(r[k] for k in key) not in done]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_table(path, old + rows, columns, cell=fixed(2), delimiter=",")
