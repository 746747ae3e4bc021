"""Process management: launch trainings, stream their logs, kill whole trees, scan for leaks, and
run the background loop. It interprets no results.

Design
------
Every training runs under a small guard process (`_guard.py`, standard library only, started as
``python -I -S _guard.py``)::

    runner ─► guard (new session, pgid = its pid, child subreaper) ─► training ─► ...

- **Identity.** The environment of the whole tree carries ``HYPERWATT_TOKEN=<token>``, so every
  descendant can be found by a /proc scan (`find_tagged`, `leak_scan`) even after ``setsid`` or a
  process-group change. The guard is a child subreaper, so orphaned descendants (even ones that
  scrubbed their environment) stay below it while it lives.
- **Stop** (`ProcessHandle.stop`, `kill_tagged`, `BackgroundLoop.stop`): one /proc snapshot
  lists the tree (read directly by `proctable.py`, several times faster than psutil); each
  process gets SIGTERM, then the process group; poll every 5 ms; SIGKILL after the grace period;
  once all are gone a full token scan verifies nothing is left (and stops anything it finds).
  The latency (until the last process was seen gone), whether SIGKILL was needed and any
  survivors come back in a `StopResult`. The group is signalled only while the guard is
  unreaped, so a recycled pid can never be hit.
- **kill -9 of the runner.** The guard watches the runner's *process* through a pidfd (a 50 ms
  ``getppid`` poll where pidfds are missing), not through PR_SET_PDEATHSIG, which fires when the
  forking *thread* exits. When the runner dies it SIGTERMs the group, its descendants and every
  tagged process, and SIGKILLs what is left after 0.5 s. The training itself has
  PR_SET_PDEATHSIG=SIGKILL towards the guard (single-threaded, so that is safe), so killing the
  guard kills the training too.
- **Exit status.** The guard exits with the training's exit code, or dies of the same signal, so
  `returncode` is exact (negative = killed by that signal). The exit is timestamped by a reaper
  thread the moment it happens; the log pump thread copies output as it comes and `wait()`
  returns once everything the training wrote is on disk, even if a leftover grandchild still
  holds the pipe.

Linux is the target. Elsewhere on POSIX the guard falls back to polling and process-group kills.
"""

from hyperwatt.process.background import (
    BackgroundLoop,
    BackgroundRun,
    crash_loop_reason,
    describe_exit,
)
from hyperwatt.process.handle import ProcessHandle, spawn
from hyperwatt.process.leaks import Leak, leak_scan
from hyperwatt.process.logstream import last_line
from hyperwatt.process.proctable import TOKEN_ENV
from hyperwatt.process.tree import (
    StopResult,
    find_tagged,
    kill_tagged,
    new_token,
)

__all__ = [
    "TOKEN_ENV",
    "BackgroundLoop",
    "BackgroundRun",
    "Leak",
    "ProcessHandle",
    "StopResult",
    "crash_loop_reason",
    "describe_exit",
    "find_tagged",
    "kill_tagged",
    "last_line",
    "leak_scan",
    "new_token",
    "spawn",
]
