"""Glue between Snakemake rules and the package.

``run_stage`` is what every ``workflow/scripts/<rule>.py`` wrapper calls with the stage
function it imports from :mod:`vocalmix.stages`: it sends logging and stderr (so tqdm
progress) to the rule's log file, converts Snakemake's named lists to plain dicts and calls
``stage(inputs=, outputs=, params=, threads=)``.

``module_sources`` lists the package files a stage imports (transitively), so each rule can
name exactly the code that implements it as inputs: editing one module reruns the stages
that use it and their dependants, nothing else.
"""

from __future__ import annotations

import ast
import logging
import os
import sys
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

__all__ = ["stage_logging", "as_dict", "one_blas_thread", "run_stage", "cpu_s", "peak_rss_mib",
           "module_sources"]

PACKAGE = "vocalmix"
PACKAGE_DIR = Path(__file__).resolve().parent.parent

log = logging.getLogger(__name__)


@contextmanager
def stage_logging(log_path: str | os.PathLike | None) -> Iterator[None]:
    """Send logging records and stderr to ``log_path`` for the duration of a stage."""
    if not log_path:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        yield
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    fh = open(log_path, "a", buffering=1)
    handler = logging.StreamHandler(fh)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    old_stderr = sys.stderr
    sys.stderr = fh
    try:
        yield
    except BaseException:
        log.exception("stage failed")
        raise
    finally:
        sys.stderr = old_stderr
        root.removeHandler(handler)
        fh.close()


def as_dict(named: Any) -> dict:
    """Snakemake's Namedlist (input, output, params, log) as a plain name -> value dict."""
    if isinstance(named, Mapping):
        return dict(named)
    keys = list(named.keys()) if hasattr(named, "keys") else []
    return {k: getattr(named, k) for k in keys}


#: The environment variables through which BLAS and OpenMP libraries take their thread count.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                         "GOTO_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's BLAS on one thread in this process, and in the processes it starts, for the
    duration of a stage.

    A stage uses its ``threads`` through worker processes over tracks (or torch's own
    threads, set explicitly), never through numpy's BLAS.
    Snakemake sets ``OPENBLAS_NUM_THREADS`` to a job's threads, which depend on ``--cores``,
    and a product summed on two threads rounds differently from one summed on one: a rule
    with ``threads: 2`` (``genre_features``) gave other bytes on one core than on two
    (``tests/workflow``: a 1-core run against 2-core runs). On one thread everywhere, the same
    config gives the same bytes on any machine. Torch's threads are the training stage's own
    (``torch.set_num_threads(1)``)."""
    from threadpoolctl import threadpool_limits

    saved = {var: os.environ.get(var) for var in BLAS_THREAD_VARIABLES}
    os.environ.update({var: "1" for var in BLAS_THREAD_VARIABLES})
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def run_stage(smk: Any, stage: Callable[..., Any]) -> Any:
    """Run the stage function ``stage`` with a Snakemake job's inputs, outputs and params.

    A ``nice`` param is not passed on: the job's CPU priority is lowered by it first
    (``os.nice``), for jobs the rest of the DAG does not wait for yet.

    Parameters
    ----------
    smk
        The ``snakemake`` object of a ``script:`` directive.
    stage
        A function of :mod:`vocalmix.stages` taking ``inputs``, ``outputs``, ``params``
        (plain dicts) and ``threads``.

    Returns
    -------
    Any
        What the stage returns.
    """
    log_path = smk.log[0] if len(smk.log) else None
    params = as_dict(smk.params)
    niceness = int(params.pop("nice", 0) or 0)
    with stage_logging(log_path), one_blas_thread():
        start = time.perf_counter()
        log.info("rule %s: %s.%s", smk.rule, stage.__module__, stage.__qualname__)
        if niceness > 0:  # a job the DAG does not wait for yet: cores to the ones it does
            os.nice(niceness)
            log.info("rule %s runs at niceness +%d", smk.rule, niceness)
        result = stage(
            inputs=as_dict(smk.input),
            outputs=as_dict(smk.output),
            params=params,
            threads=int(smk.threads),
        )
        log.info("rule %s done in %.2f s, CPU %.2f s, peak RSS %.0f MiB", smk.rule,
                 time.perf_counter() - start, cpu_s(), peak_rss_mib())
        return result


def cpu_s() -> float:
    """CPU seconds (user + system) of the job's process so far, interpreter start-up and
    imports included, with its finished child processes: the job's real cost, which
    Snakemake's ``benchmark:`` ``cpu_time`` (sampled, see :func:`peak_rss_mib`) misses for
    jobs of a few seconds."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mib() -> float:
    """The job's peak resident memory so far (MiB): the kernel's high-water mark of this
    process image (``VmHWM``), or of a finished child process when one went higher.

    Snakemake's ``benchmark:`` ``max_rss`` samples every 0.5 s for the first 15 s and every
    30 s after, so it can miss a long job's peak; this line is exact
    (``benchmarks/long_songs.py`` reads it). ``getrusage``'s own ``ru_maxrss`` is not used
    for this process: Linux carries it across ``fork`` and ``exec``, so a job started by a
    large Snakemake process would report Snakemake's size.
    """
    import resource

    hwm_kib = 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    hwm_kib = int(line.split()[1])
                    break
    except OSError:  # not Linux: the rusage figure, an upper bound
        hwm_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(hwm_kib, children) / 1024.0


def _imports_of(path: Path, module: str, is_package: bool) -> set[str]:
    """Names of ``vocalmix`` modules imported anywhere in a source file (incl. lazily)."""
    st = path.stat()
    return set(_imports_cached(path, module, is_package, st.st_mtime_ns, st.st_size))


@lru_cache(maxsize=None)
def _imports_cached(path: Path, module: str, is_package: bool, mtime_ns: int,
                    size: int) -> frozenset[str]:
    """:func:`_imports_of` for one version of the file: the Snakefile asks for the same
    modules' sources once per rule (26 times), and parsing every file again each time was
    most of the workflow's parse time (3.5 of 5.6 s)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: -(node.level - 1)]
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            found.add(target)
            for alias in node.names:  # "from pkg import module" imports a submodule
                found.add(f"{target}.{alias.name}")
    return frozenset(found)


def _module_file(module: str) -> tuple[Path, bool] | None:
    parts = module.split(".")[1:]
    base = PACKAGE_DIR.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py", True
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py"), False
    return None


def module_sources(*modules: str, relative_to: str | os.PathLike | None = None) -> list[str]:
    """Source files of ``modules`` and every ``vocalmix`` module they import, transitively.

    Parent packages' ``__init__.py`` files are included (importing a submodule runs them).
    Paths are returned sorted, relative to ``relative_to`` (default: the current directory).
    """
    seen: dict[str, Path] = {}
    stack = list(modules)
    while stack:
        mod = stack.pop()
        if mod in seen:
            continue
        located = _module_file(mod)
        if located is None:
            continue  # "from vocalmix.x import name" where name is not a module
        path, is_pkg = located
        seen[mod] = path
        parents = mod.split(".")
        for i in range(1, len(parents)):
            stack.append(".".join(parents[:i]))
        stack.extend(_imports_of(path, mod, is_pkg) - seen.keys())
    missing = [m for m in modules if m not in seen]
    if missing:
        raise ImportError(f"no such vocalmix module(s): {', '.join(missing)}")
    base = Path(relative_to) if relative_to is not None else Path.cwd()
    return sorted(os.path.relpath(p, base) for p in seen.values())
