"""Exit 0 when no Snakemake process runs in the working directory of a run, else 1.

Used by ``make resume``: after a killed run (a crash, SIGKILL, a pre-emption) Snakemake's
lock stays in ``.snakemake/locks`` and every rerun stops with a ``LockException`` until
``snakemake --unlock``. Unlocking while another Snakemake still works in the same directory
would let two runs write the same files, so ``make resume`` unlocks only when this script
finds none. Stdlib only (it runs before anything else)::

    python workflow/scripts/resume_guard.py [snakemake options, e.g. --directory DIR]

A process counts as Snakemake when its program, or the module it runs (``python -m
snakemake``), is named ``snakemake``; its working directory is its ``--directory`` / ``-d``
option, else the directory it runs in. Linux (``/proc``) only; elsewhere the check cannot
be made and the script says so (exit 2).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _workdir(argv: list[str], cwd: Path) -> Path:
    """The run's working directory from Snakemake options (``--directory``/``-d``)."""
    for i, arg in enumerate(argv):
        for flag in ("--directory", "-d"):
            if arg == flag and i + 1 < len(argv):
                return (cwd / argv[i + 1]).resolve()
            if arg.startswith(flag + "="):
                return (cwd / arg.split("=", 1)[1]).resolve()
    return cwd.resolve()


def _is_snakemake(argv: list[str]) -> bool:
    head = argv[:3]
    if any(Path(a).name == "snakemake" for a in head):
        return True
    return "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "snakemake"


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def running_in(workdir: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every Snakemake process whose working directory is ``workdir``."""
    mine = _ancestors()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in mine:
            continue
        try:
            argv = [a.decode(errors="replace")
                    for a in (proc / "cmdline").read_bytes().split(b"\0") if a]
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue  # gone, or not ours to inspect
        if argv and _is_snakemake(argv) and _workdir(argv, cwd) == workdir:
            found.append((int(proc.name), " ".join(argv)))
    return found


def main(argv: list[str]) -> int:
    workdir = _workdir(argv, Path.cwd())
    if not Path("/proc/self/cmdline").exists():
        print("resume_guard: cannot list processes here (no /proc): check by hand that no "
              f"snakemake runs in {workdir}, then run snakemake --unlock", file=sys.stderr)
        return 2
    busy = running_in(workdir)
    if busy:
        for pid, cmd in busy:
            print(f"resume_guard: snakemake is still running in {workdir} (pid {pid}: "
                  f"{cmd[:200]}); not unlocking. Wait for it to end, or stop it, then run "
                  "make resume again.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
