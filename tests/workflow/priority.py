"""Niceness for a whole session of processes, where the kernel schedules by session.

With autogroup scheduling (``/proc/sys/kernel/sched_autogroup_enabled`` = 1, the default of
many kernels, this project's 2-core test machine's included), the kernel first shares the
CPU between *sessions* (one "autogroup" per ``setsid``), and a process's own niceness only
ranks it against the processes of its own session. The background runs of the test session
(tests/workflow/background.py) start in sessions of their own (``start_new_session=True``,
so that they can be killed as a group): their ``os.nice`` then did nothing against the
tests in the foreground. Measured on that machine: runs niced to 10 and 15 in sessions of
their own took as much CPU as the foreground tests (0.2-0.4 core each), and a CPU-bound
loop beside a loop niced to 15 in a new session got a third of the core, 85 % once that
session was niced too.

:func:`nice_session` gives the session's autogroup the niceness as well, so that the
background runs yield to the tests as they were meant to. The work itself is unchanged.
"""

from __future__ import annotations

import errno
import time


def nice_session(pid: int, nice: int) -> bool:
    """Set the niceness of the autogroup of ``pid`` (a session leader: a process started
    with ``start_new_session=True``) to ``nice``; True when it was set. Nothing where the
    kernel has no autogroups, or the process has already ended. Without CAP_SYS_ADMIN the
    kernel takes one such change per 100 ms (EAGAIN otherwise): retried a few times."""
    if nice <= 0:
        return False
    for _ in range(5):
        try:
            with open(f"/proc/{pid}/autogroup", "w") as fh:
                fh.write(str(nice))
            return True
        except OSError as exc:
            if exc.errno != errno.EAGAIN:
                return False
            time.sleep(0.11)
    return False
