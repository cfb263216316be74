"""A throw-away one-node Slurm cluster for the tests: munged, slurmctld and slurmd run as
root in the foreground, with their configuration, key, sockets, state, spool and logs all
under one temporary directory (short: Unix socket paths are limited to 108 bytes).

    with OneNodeSlurm(cpus=8, mem_mb=16000) as slurm:
        subprocess.run(["sbatch", ...], env=slurm.env)

``slurm.env`` is ``os.environ`` plus ``SLURM_CONF``, which every Slurm client (sbatch,
squeue, srun inside the jobs) reads. Run ``python -m tests.workflow.slurm_cluster`` to start
one, submit a job and stop it again.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


def missing_binaries() -> list[str]:
    """The Slurm/munge programs that are not installed (empty when all are)."""
    return [b for b in (*DAEMONS, "sbatch", "squeue", "sinfo", "scancel", "srun")
            if shutil.which(b) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mem_total_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path.name}: absent)"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- {path.name} (last {len(text)} lines) ---\n" + "\n".join(text)


class SlurmError(RuntimeError):
    pass


class OneNodeSlurm:
    """One node, one partition (``debug``, the default), no accounting.

    ``cpus``/``mem_mb``: what the node declares. When that is more than the machine has,
    ``SlurmdParameters=config_overrides`` keeps slurmd from draining the node, so a job
    sized for a real cluster node is accepted here (and runs on the cores there are).
    ``job_nice``: the niceness slurmd runs with, which its jobs inherit (Slurm's default
    ``PropagatePrioProcess=0``): jobs that share the machine with other work yield to it."""

    PARTITION = "debug"

    def __init__(self, cpus: int | None = None, mem_mb: int | None = None,
                 start_timeout: float = 60.0, job_nice: int = 0):
        self.job_nice = int(job_nice)
        self.real_cpus = os.cpu_count() or 1
        self.real_mem_mb = _mem_total_mb()
        self.cpus = max(cpus or 0, self.real_cpus)
        self.mem_mb = max(mem_mb or 0, 1)
        self.start_timeout = start_timeout
        self.root: Path | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}

    # -- paths --------------------------------------------------------------------
    def path(self, name: str) -> Path:
        assert self.root is not None
        return self.root / name

    @property
    def logs(self) -> list[Path]:
        return [self.path(f"log/{d}.log") for d in DAEMONS] + \
            [self.path(f"log/{d}.out") for d in DAEMONS]

    def log_tails(self, lines: int = 40) -> str:
        if self.root is None:
            return "(no cluster directory)"
        return "\n".join(_tail(p, lines) for p in self.logs if p.exists())

    # -- configuration ------------------------------------------------------------
    def _write_config(self) -> None:
        host = socket.gethostname().split(".")[0]
        overrides = self.cpus > self.real_cpus or self.mem_mb > self.real_mem_mb
        conf = f"""\
ClusterName=vocalmix-test-{os.getpid()}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.path('munge/munge.socket')}
StateSaveLocation={self.path('state')}
SlurmdSpoolDir={self.path('spool')}
SlurmctldPidFile={self.path('run/slurmctld.pid')}
SlurmdPidFile={self.path('run/slurmd.pid')}
SlurmctldLogFile={self.path('log/slurmctld.log')}
SlurmdLogFile={self.path('log/slurmd.log')}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
SlurmctldTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
{'SlurmdParameters=config_overrides' if overrides else ''}
NodeName={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.mem_mb} State=UNKNOWN
PartitionName={self.PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
        self.node = host
        self.path("slurm.conf").write_text(conf)

    def _make_dirs(self) -> None:
        for sub in ("munge", "state", "spool", "run", "log", "bin"):
            self.path(sub).mkdir(mode=0o700)
        # snakemake-executor-plugin-slurm-jobstep (0.6.1) starts each job's srun with every
        # SLURM_* variable but a few removed, SLURM_CONF included: that srun would then look
        # for /etc/slurm/slurm.conf. Clusters with their configuration there (or configless)
        # don't notice; here srun on PATH is the real one with SLURM_CONF put back.
        srun = self.path("bin/srun")
        srun.write_text(f"#!/bin/sh\nexport SLURM_CONF={self.path('slurm.conf')}\n"
                        f"exec {shutil.which('srun')} \"$@\"\n")
        srun.chmod(0o755)
        self.path("bin").chmod(0o755)
        key = self.path("munge/munge.key")
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)

    # -- daemons ------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str]) -> None:
        out = open(self.path(f"log/{name}.out"), "w")
        self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                            env=self.env, start_new_session=True)
        out.close()

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise SlurmError(f"{name} exited with {proc.returncode} while starting\n"
                                 + self.log_tails())

    def _wait(self, what: str, ok, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if ok():
                return
            time.sleep(0.5)
        raise SlurmError(f"timed out after {timeout:.0f} s waiting for {what}\n"
                         + self.log_tails())

    def run(self, *cmd: str, timeout: float = 30, check: bool = True
            ) -> subprocess.CompletedProcess:
        """A Slurm client command against this cluster."""
        proc = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise SlurmError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                             f"{proc.stderr.strip()}\n" + self.log_tails())
        return proc

    def node_state(self) -> str:
        proc = self.run("sinfo", "--noheader", "--Node", "--format=%t", check=False,
                        timeout=10)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def start(self) -> "OneNodeSlurm":
        if os.geteuid() != 0:
            raise SlurmError("slurmd must run as root")
        self.root = Path(tempfile.mkdtemp(prefix="vm-slurm-"))
        self.root.chmod(0o755)
        self.env = {**os.environ, "SLURM_CONF": str(self.path("slurm.conf")),
                    "PATH": f"{self.path('bin')}{os.pathsep}{os.environ.get('PATH', '')}"}
        for var in [k for k in self.env if k.startswith(("SLURM_", "SBATCH_", "SRUN_"))]:
            if var != "SLURM_CONF":
                del self.env[var]
        try:
            self._make_dirs()
            self._write_config()
            sock = self.path("munge/munge.socket")
            self._spawn("munged", [
                "munged", "--foreground", "--force",
                f"--socket={sock}", f"--key-file={self.path('munge/munge.key')}",
                f"--pid-file={self.path('run/munged.pid')}",
                f"--log-file={self.path('log/munged.log')}",
                f"--seed-file={self.path('munge/munged.seed')}"])
            self._wait("munged's socket", sock.exists, self.start_timeout)
            conf = str(self.path("slurm.conf"))
            self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", conf])
            nice = ["nice", "-n", str(self.job_nice)] if self.job_nice else []
            self._spawn("slurmd", [*nice, "slurmd", "-D", "-f", conf, "-N", self.node])
            self._wait(f"node {self.node} to be idle (sinfo)",
                       lambda: self.node_state() == "idle", self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Cancel every job, stop the daemons (TERM, then KILL), remove the directory."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self.run("scancel", "--full", f"--partition={self.PARTITION}", check=False)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                q = self.run("squeue", "--noheader", "--format=%i", check=False, timeout=10)
                if q.returncode != 0 or not q.stdout.strip():
                    break
                time.sleep(1)
        for name in reversed(DAEMONS):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        self.procs.clear()
        if self.root is not None and not os.environ.get("VOCALMIX_KEEP_SLURM_DIR"):
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "OneNodeSlurm":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # a smoke test by hand
    with OneNodeSlurm() as slurm:
        print(slurm.run("sinfo").stdout)
        out = slurm.root / "job.out"
        jid = slurm.run("sbatch", "--parsable", f"--output={out}", "--wrap",
                        "srun -n1 hostname").stdout.strip()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = slurm.run("squeue", "--states=all", "--noheader", "--format=%T",
                              "--job", jid).stdout.strip()
            if state in ("COMPLETED", "FAILED", "CANCELLED"):
                break
            time.sleep(1)
        print(jid, state, out.read_text() if out.exists() else "(no output)")
