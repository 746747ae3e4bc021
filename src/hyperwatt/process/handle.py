"""Launching one training under a guard process: `spawn()` and the `ProcessHandle` it returns."""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from hyperwatt.clock import SYSTEM_CLOCK, Clock, SystemClock
from hyperwatt.errors import HyperwattError
from hyperwatt.process.logstream import LogPump, LogTimes
from hyperwatt.process.proctable import TOKEN_ENV, descendants, snapshot
from hyperwatt.process.tree import (
    StopResult,
    check_token,
    is_alive,
    terminate_processes,
    to_processes,
)

GUARD_SCRIPT = Path(__file__).with_name("_guard.py")
ORPHAN_GRACE_S = 0.5  # the guard's SIGTERM-to-SIGKILL grace once the runner has died
START_TIMEOUT_S = 30.0  # how long spawn() waits for the guard to report the training's pid
FINISH_WAIT_S = 1.0  # how long stop() waits for the exit status and the log after the kill
UNKNOWN_EXIT = 255  # exit code recorded if someone else reaped the guard


class ProcessHandle:
    """One training started by `spawn()`: its identity, timestamps, exit status, tree and stop.

    `pid` is the training's pid, `guard_pid` (= `pgid`) the guard's, which leads the process
    group. `started_*` is stamped when the training process exists, `ended_*` when it has
    exited (the guard exits with it); both with the clock given to `spawn()`.
    """

    def __init__(
        self,
        *,
        proc: subprocess.Popen[bytes],
        pid: int,
        argv: list[str],
        cwd: Path,
        log_path: Path,
        token: str,
        pump: LogPump,
        clock: Clock,
        status_fd: int | None = None,
    ) -> None:
        self.pid = pid
        self.guard_pid = proc.pid
        self.pgid = proc.pid
        self.argv = argv
        self.cwd = cwd
        self.log_path = log_path
        self.token = token
        self.started_mono = clock.monotonic()
        self.started_wall = clock.time()
        self.ended_mono: float | None = None
        # CPU seconds of the whole tree the guard reaped (the training, its children, orphans),
        # exact from the kernel's accounting; None until the guard is reaped
        self.cpu_time_s: float | None = None
        self.ended_wall: float | None = None
        #: "pid N: cmdline" of what the training left running when it exited, killed by its guard
        self.killed: list[str] = []
        self._status_fd = status_fd
        self._returncode: int | None = None
        self._proc = proc
        self._pump = pump
        self._clock = clock
        try:
            self._guard: psutil.Process | None = psutil.Process(proc.pid)
        except psutil.Error:
            self._guard = None
        self._reap_lock = threading.RLock()  # held while reaping the guard and while killpg'ing
        self._reaped = False
        self._stop_lock = threading.RLock()  # re-entrant: a signal handler may stop() too
        self._finished = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name=f"reap:{pid}", daemon=True)
        self._reaper.start()

    def __repr__(self) -> str:
        return f"<ProcessHandle pid={self.pid} returncode={self._returncode} argv={self.argv!r}>"

    @property
    def log_cut_bytes(self) -> int:
        """Output bytes left out of the log by its size cap."""
        return self._pump.cut_bytes

    @property
    def log_error(self) -> str | None:
        """Why the log file stopped being written (a full disk), if it did."""
        return self._pump.write_error

    @property
    def log_times(self) -> LogTimes:
        """When each byte of the log arrived (wall time, the `spawn()` clock's)."""
        return self._pump.times

    @property
    def returncode(self) -> int | None:
        """Exit code; negative = killed by that signal; None while running."""
        return self._returncode

    def poll(self) -> int | None:
        """The exit code if the training has exited, else None; never blocks."""
        return self._returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the training has exited and its log is drained; None on timeout."""
        if self._finished.wait(timeout):
            return self._returncode
        return None

    def running_pids(self) -> list[int]:
        """Pids of the tree while the training runs (guard, descendants, group: no token scan, so
        cheap enough to poll twice a second); [] once it has exited."""
        if self._returncode is not None:
            return []
        return sorted(p.pid for p in self._tree(with_tokens=False) if is_alive(p))

    def pids(self) -> list[int]:
        """Live pids of the whole tree: guard, its descendants, and every process with our token."""
        return sorted(p.pid for p in self._tree(with_tokens=True) if is_alive(p))

    def stop(self, grace_s: float = 2.0) -> StopResult:
        """SIGTERM the group and every process of the tree, SIGKILL after grace_s; idempotent.

        Also kills stragglers carrying the token after the training has exited.
        """
        with self._stop_lock:
            result = terminate_processes(
                lambda: self._tree(with_tokens=not self._guard_alive()),
                grace_s,
                clock=self._clock,
                signal_groups=self._signal_group,
                verify=lambda: self._tree(with_tokens=True),
                supervisors=(self.guard_pid,),
            )
        self._finished.wait(FINISH_WAIT_S)
        return result

    def _guard_alive(self) -> bool:
        return self._guard is not None and is_alive(self._guard)

    def _tree(self, with_tokens: bool) -> list[psutil.Process]:
        """The guard, its descendants and its group members (all found while the guard lives:
        it is a subreaper), plus every process carrying our token if with_tokens."""
        table = snapshot(read_tokens=with_tokens)
        pids: set[int] = set()
        if self._guard_alive():
            pids.add(self.guard_pid)
            pids |= descendants(table, self.guard_pid)
            pids |= {pid for pid, row in table.items() if row.pgrp == self.pgid}
        if with_tokens:
            pids |= {pid for pid, row in table.items() if row.token == self.token}
        return to_processes(pid for pid in pids if pid in table and not table[pid].zombie)

    def _signal_group(self, sig: int) -> None:
        # Until the guard is reaped its pid cannot be reused, so the group is surely ours.
        with self._reap_lock:
            if self._reaped:
                return
            try:
                os.killpg(self.pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def _guard_report(self) -> tuple[float, int] | None:
        """After the guard's exit: what it killed (`killed`), and when (this host's CLOCK_MONOTONIC)
        and how the training exited, from the guard's lines after the pid."""
        if self._status_fd is None:
            return None
        data = b""
        try:
            while len(data) < 1 << 20 and (chunk := os.read(self._status_fd, 65536)):
                data += chunk
        except OSError:
            pass
        finally:
            os.close(self._status_fd)
            self._status_fd = None
        exited = None
        for line in data.splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and isinstance(message.get("mono"), (int, float)) \
                    and isinstance(message.get("exited"), int):
                exited = float(message["mono"]), int(message["exited"])
            if isinstance(message, dict) and isinstance(message.get("killed"), list):
                self.killed = [str(k) for k in message["killed"]]
        return exited

    def _reap(self) -> None:
        if hasattr(os, "waitid"):
            try:  # wait for the exit without reaping, so the pid stays ours until we lock
                os.waitid(os.P_PID, self.guard_pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                pass
        ended_mono, ended_wall = self._clock.monotonic(), self._clock.time()
        exited = self._guard_report()
        if exited is not None and isinstance(self._clock, SystemClock):
            # the training exited before its guard had cleared the tree: the guard's clock is ours
            earlier = max(0.0, time.monotonic() - exited[0])
            ended_mono, ended_wall = ended_mono - earlier, ended_wall - earlier
        with self._reap_lock:
            try:
                _, status, usage = os.wait4(self.guard_pid, 0)
                code = os.waitstatus_to_exitcode(status)
                self.cpu_time_s = usage.ru_utime + usage.ru_stime
            except ChildProcessError:
                code = UNKNOWN_EXIT
            if exited is not None:  # the training's own exit, even if its guard was killed clearing up
                code = exited[1]
            self._proc.returncode = code
            self._reaped = True
        self.ended_mono, self.ended_wall = ended_mono, ended_wall
        self._returncode = code
        self._pump.request_drain()
        self._pump.drained.wait()
        self._finished.set()


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    token: str,
    echo: Callable[[str], None] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    max_log_bytes: int | None = None,
) -> ProcessHandle:
    """Start argv (never through a shell) under a guard, in a new session, output to log_path.

    stdin is /dev/null; stdout and stderr are merged and streamed to log_path (parents created,
    appended to) and, line by line, to echo (called from the log thread). The environment is
    `env` plus HYPERWATT_TOKEN=token, inherited by every descendant. With `max_log_bytes` the
    stored log keeps the output's first and last halves of that (`LogPump`). Returns once the training
    process exists (about 30 ms: the guard starts first). Raises HyperwattError if the program
    cannot be started.
    """
    if os.name != "posix":
        raise HyperwattError("process management needs a POSIX system (Linux is supported)")
    args = _check_argv(argv)
    check_token(token)
    cwd, log_path = Path(cwd), Path(log_path)
    if not cwd.is_dir():
        raise HyperwattError(f"cannot start {args[0]!r}: working directory {cwd} does not exist")
    child_env = _check_env(env)
    child_env[TOKEN_ENV] = token

    log_r, log_w = os.pipe()
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        pump = LogPump(log_r, log_path, echo, clock.time, max_bytes=max_log_bytes)
    except OSError as exc:
        os.close(log_r)
        os.close(log_w)
        raise HyperwattError(f"cannot write log {log_path}: {exc.strerror}") from None
    pump.start()  # before the launch: if it fails, closing log_w ends the pump
    status_r, status_w = os.pipe()
    guard_argv = [sys.executable, "-I", "-S", str(GUARD_SCRIPT), str(status_w), str(os.getpid())]
    try:
        proc = subprocess.Popen(
            [*guard_argv, repr(ORPHAN_GRACE_S), "--", *args],
            cwd=cwd,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log_w,
            stderr=subprocess.STDOUT,
            pass_fds=(status_w,),
            start_new_session=True,
        )
    except OSError as exc:
        os.close(status_r)
        raise HyperwattError(f"cannot start the process guard {sys.executable}: {exc}") from None
    finally:
        os.close(log_w)
        os.close(status_w)
    try:
        message = _read_status(status_r)
    except BaseException:
        os.close(status_r)
        raise
    if "pid" not in message:
        os.close(status_r)
        if message.get("timeout"):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        returncode = proc.wait()
        pump.finished.wait(FINISH_WAIT_S)
        raise HyperwattError(_start_error(args[0], cwd, log_path, message, returncode))
    return ProcessHandle(
        proc=proc,
        pid=int(str(message["pid"])),
        argv=args,
        cwd=cwd,
        log_path=log_path,
        token=token,
        pump=pump,
        clock=clock,
        status_fd=status_r,
    )


def _check_argv(argv: Sequence[str]) -> list[str]:
    if isinstance(argv, (str, bytes)) or not argv:
        raise HyperwattError(f"cannot start {argv!r}: a command is a non-empty list of strings")
    args = [os.fspath(a) if isinstance(a, os.PathLike) else a for a in argv]
    for index, arg in enumerate(args):
        if not isinstance(arg, str):
            raise TypeError(f"argv[{index}] is {type(arg).__name__}, not str: {arg!r}")
        if "\0" in arg:
            raise HyperwattError(f"cannot start {args[0]!r}: argument {index} contains a NUL byte")
    return args


def _check_env(env: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"environment entries must be str: {key!r}={value!r}")
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise HyperwattError(f"environment variable {key!r}: bad name or NUL byte in value")
        out[key] = value
    return out


def _read_status(fd: int) -> dict[str, object]:
    """The guard's first JSON line: {"pid": N}, an exec error, {} (it died), or timeout."""
    poller = select.poll()  # not select(): the runner may hold more than 1024 descriptors
    poller.register(fd, select.POLLIN)
    data = b""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return {"timeout": True}
        if not poller.poll(remaining * 1000):
            continue
        chunk = os.read(fd, 1)  # byte by byte: what follows the first line is the reaper's
        if not chunk or chunk == b"\n":
            break
        data += chunk
    try:
        message = json.loads(data.decode() or "{}")
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _start_error(
    program: str, cwd: Path, log_path: Path, message: dict[str, object], returncode: int
) -> str:
    code = message.get("errno")
    if code == errno.ENOENT:
        return f"cannot start {program!r}: executable not found (on PATH or in {cwd})"
    if code == errno.EACCES:
        return f"cannot start {program!r}: permission denied (is it executable?)"
    if code == errno.ENOEXEC:
        return f"cannot start {program!r}: not an executable format (missing #! line?)"
    if code is not None:
        return f"cannot start {program!r}: {message.get('strerror')}"
    if "error" in message:
        return f"cannot start {program!r}: {message['error']}"
    if message.get("timeout"):
        return f"cannot start {program!r}: its guard did not report within {START_TIMEOUT_S:g} s"
    return f"cannot start {program!r}: its guard exited with status {returncode}; see {log_path}"
