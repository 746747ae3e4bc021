"""Process guard: sits between the runner and one training, and kills the training's whole tree
if the runner dies, however it dies (kill -9 included).

Usage (what `hyperwatt.process.spawn` runs; standard library only, so it runs under ``-I -S``)::

    python -I -S _guard.py STATUS_FD RUNNER_PID ORPHAN_GRACE_S -- ARGV...

The guard
- is started by the runner in a new session, so its pid is the process group of the tree;
- makes itself a child subreaper (Linux), so orphaned descendants are re-parented to it and stay
  findable even after ``setsid`` and an environment scrub;
- watches the runner through a pidfd (Linux >= 5.3; a 50 ms ``getppid`` poll elsewhere). This is
  tied to the runner *process*, not to the thread that forked the guard (PR_SET_PDEATHSIG would
  fire when that thread exits);
- starts ARGV in the guard's process group with PR_SET_PDEATHSIG=SIGKILL (the guard is
  single-threaded, so that death signal means "the guard died"), then reports ``{"pid": N}`` or
  the exec error as one JSON line on STATUS_FD;
- ignores SIGTERM/SIGINT/SIGHUP sent to the group (the training gets them with their default
  action);
- when the training exits: reports ``{"exited": CODE, "mono": T}`` (T its CLOCK_MONOTONIC time),
  then stays the subreaper until the subtree is empty: whatever the training left running (a
  double-forked ``setsid`` daemon with an empty environment included; they were all re-parented
  to the guard) gets SIGTERM, SIGKILL after ORPHAN_GRACE_S, and is reported as
  ``{"killed": ["pid N: cmdline", ...]}``; the runner's death meanwhile changes nothing. Then it
  exits like the training: the same exit code, or killed by the same signal;
- when the runner dies: SIGTERM to its group, its descendants and every process whose environment
  carries ``HYPERWATT_TOKEN=<token>``, then SIGKILL to whatever is left after ORPHAN_GRACE_S.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable

TOKEN_ENV = "HYPERWATT_TOKEN"  # as in proctable.py
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PARENT_POLL_S = 0.05
_KILL_POLL_S = 0.01
_KILL_WAIT_S = 3.0


def main(argv: list[str]) -> int:
    if len(argv) < 6 or argv[4] != "--":
        sys.stderr.write("usage: _guard.py STATUS_FD RUNNER_PID ORPHAN_GRACE_S -- ARGV...\n")
        return 2
    status_fd, runner_pid, orphan_grace_s = int(argv[1]), int(argv[2]), float(argv[3])
    command = argv[5:]
    token = os.environ.get(TOKEN_ENV, "")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _ignore)  # a handler, not SIG_IGN: exec resets it to the default
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, _ignore)
    signal.set_wakeup_fd(wake_w)

    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    runner_fd = _pidfd(runner_pid)
    if os.getppid() != runner_pid:
        _report(status_fd, {"error": "the runner exited before the training started"})
        return 1

    try:
        child = subprocess.Popen(command, preexec_fn=_die_with(libc, os.getpid()))
    except (OSError, ValueError) as exc:
        _report(status_fd, _describe(exc))
        return 127
    _report(status_fd, {"pid": child.pid}, close=False)

    while True:
        status = _reap(child.pid)
        if status is not None:
            _report(status_fd, {"exited": os.waitstatus_to_exitcode(status), "mono": time.monotonic()}, close=False)
            # a subreaper with no child left has an empty subtree: the common case costs no /proc scan
            killed = _kill_tree(token, child.pid, orphan_grace_s) if _has_children() else []
            _report(status_fd, {"killed": killed} if killed else {})
            _exit_like(status)
        watched = [wake_r] + ([runner_fd] if runner_fd is not None else [])
        timeout = None if runner_fd is not None else _PARENT_POLL_S
        ready, _, _ = select.select(watched, [], [], timeout)
        _drain(wake_r)
        if runner_fd in ready or os.getppid() != runner_pid:
            _kill_tree(token, child.pid, orphan_grace_s)
            return 1


def _ignore(signum: int, frame: object) -> None:
    """Signal handler that does nothing (the main loop looks at the state itself)."""


def _libc() -> ctypes.CDLL | None:
    """libc through the interpreter's own symbols (find_library would run ldconfig)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _die_with(libc: ctypes.CDLL | None, guard_pid: int) -> Callable[[], None]:
    """The training's pre-exec hook: SIGKILL when the guard dies (safe: one thread here)."""

    def setup() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != guard_pid:
            os._exit(1)

    return setup


def _report(fd: int, message: dict[str, object], close: bool = True) -> None:
    """One JSON line to the runner (an empty message writes nothing); a runner gone is no error."""
    try:
        if message:
            os.write(fd, (json.dumps(message) + "\n").encode())
    except OSError:
        pass
    finally:
        if close:
            os.close(fd)


def _describe(exc: Exception) -> dict[str, object]:
    if isinstance(exc, OSError):
        return {"errno": exc.errno, "strerror": exc.strerror, "filename": exc.filename}
    return {"error": str(exc)}


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _reap(training_pid: int) -> int | None:
    """Reap every exited child (orphans included); the training's wait status if it exited."""
    found = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == training_pid:
            found = status


def _has_children() -> bool:
    """Whether any child (running, or exited and not yet reaped) is left."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _exit_like(status: int) -> None:
    """Exit with the training's exit code, or die of the signal that killed it."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.set_wakeup_fd(-1)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # those two take no handler
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        time.sleep(1.0)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def _kill_tree(token: str, training_pid: int, grace_s: float) -> list[str]:
    """SIGTERM the tree, wait up to grace_s, SIGKILL what is left, wait for it to go. Returns
    "pid N: cmdline" of each process that was still running (not already exiting) when found."""
    pgid = os.getpgid(0)
    if not os.path.isdir("/proc"):  # the process group is all we can reach
        os.killpg(pgid, signal.SIGTERM)
        time.sleep(grace_s)
        os.killpg(pgid, signal.SIGKILL)  # the guard goes with it, its duty done
        return []
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from proctable import descendants, snapshot  # type: ignore[import-not-found]  # beside this file, by path

    def targets() -> list[int]:
        """Live pids of the tree: our descendants, our group, every process with the token."""
        table = snapshot(read_tokens=bool(token))
        found = descendants(table, os.getpid())
        found |= {p for p, row in table.items() if row.pgrp == pgid or row.token == token}
        return sorted(p for p in found if not table[p].zombie)

    deadline = time.monotonic() + grace_s
    sig = signal.SIGTERM
    sent: set[tuple[int, int]] = set()
    killed: list[str] = []
    while True:
        _reap(training_pid)
        pids = targets()
        now = time.monotonic()
        if not pids or now >= deadline + _KILL_WAIT_S:
            return killed
        if now >= deadline:
            sig = signal.SIGKILL
        for pid in pids:
            if (pid, signal.SIGTERM) not in sent and (pid, signal.SIGKILL) not in sent and not _exiting(pid):
                killed.append(_describe_pid(pid))
            if (pid, sig) not in sent:
                sent.add((pid, sig))
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        time.sleep(_KILL_POLL_S)


def _exiting(pid: int) -> bool:
    """Already dying: a zombie, or PF_EXITING set (as `tree.stat_exiting`, which needs psutil)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        fields = stat[stat.rindex(b")") + 2:].split()
        return fields[0] in (b"Z", b"X", b"x") or bool(int(fields[6]) & 0x4)
    except (OSError, ValueError, IndexError):
        return True  # gone


def _describe_pid(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read(4096).rstrip(b"\0").split(b"\0")
        text = " ".join(a.decode(errors="replace") for a in argv)
    except OSError:
        text = "?"
    return f"pid {pid}: {text[:200]}"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
