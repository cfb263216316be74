"""Whether numpy asks the kernel for transparent huge pages: off for the command line.

numpy advises the kernel (``madvise(MADV_HUGEPAGE)``) to back every array of 4 MB or more
with 2 MB pages, unless ``NUMPY_MADVISE_HUGEPAGE=0`` is set when it is imported. Where the
kernel gives huge pages on request only (``/sys/kernel/mm/transparent_hugepage/enabled`` =
``madvise``, the default of many distributions and of the 2-core reference machine), that
advice is what makes them huge. vocalmix's commands allocate many
song-sized arrays (a 3-minute stereo float32 signal is 63 MB) and pass over each a few
times, where huge pages buy little and their faults cost: on the reference machine a
rule-based ``vocalmix mix`` of a 3-minute song spent 0.79-1.24 s of system time with the
advice and 0.45-0.48 s without, 2.97-3.42 s against 2.68-2.73 s of wall time (four
alternating pairs; no compaction stalls in ``/proc/vmstat``: the cost is in the faults
themselves), with the same output bytes. Nothing changes where the kernel uses huge pages
always or never, nor in a process that imported numpy before (the advice is read once, at
numpy's import).

:func:`no_hugepage_advice` is called first by the command line (:mod:`vocalmix.cli`); a
user's own ``NUMPY_MADVISE_HUGEPAGE`` is kept. The pipeline's jobs keep numpy's default:
``make run`` took 266.4 s (58.9 s of system time) without the advice and 263.4 s (57.6 s)
with it, one clean run each on the reference machine, so there was nothing to gain there.
"""

from __future__ import annotations

import os

__all__ = ["ENV", "no_hugepage_advice"]

#: numpy's switch for the advice (read when numpy is imported).
ENV = "NUMPY_MADVISE_HUGEPAGE"


def no_hugepage_advice() -> bool:
    """Set ``NUMPY_MADVISE_HUGEPAGE=0`` in the environment unless it is set already: numpy
    imported after this in this process, and in every child process, gives no advice. True
    when it was set. (A process that has imported numpy already keeps its advice.)"""
    if ENV in os.environ:
        return False
    os.environ[ENV] = "0"
    return True
