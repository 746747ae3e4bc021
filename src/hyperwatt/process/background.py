"""The background loop: a training restarted in a loop as GPU load, every run recorded."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.errors import HyperwattError
from hyperwatt.process.handle import ProcessHandle, spawn
from hyperwatt.process.logstream import last_line
from hyperwatt.process.tree import StopResult, check_token, kill_tagged

SLICE_S = 0.005  # the supervisor's reaction time to stop() during the restart delay
WAIT_UNTIL_POLL_S = 0.01
STRAGGLER_GRACE_S = 1.0  # grace for leftovers of a finished run before the next one starts
JOIN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BackgroundRun:
    """One iteration of the background loop."""

    index: int  # 1-based
    started_wall: float
    started_mono: float
    ended_wall: float | None
    ended_mono: float | None
    exit_code: int | None  # None while running; negative = killed by that signal
    log_path: Path  # <log_dir>/run-<k>.log
    stopped_by_us: bool  # ended because we stopped the loop
    killed: tuple[str, ...] = ()  # what the run left running when it exited, killed by its guard

    @property
    def duration_s(self) -> float | None:
        """Monotonic seconds from start to end; None while running."""
        if self.ended_mono is None:
            return None
        return self.ended_mono - self.started_mono


class BackgroundLoop:
    """Runs argv again and again (restart_delay_s apart) until stopped or found ineffective.

    The loop is ineffective once `crash_loop_runs` consecutive runs (not counting runs we
    stopped) each lasted less than `min_run_s`; it then stops restarting and says why. Every
    run carries HYPERWATT_TOKEN=token; leftovers of a finished run are killed before the next
    one starts. `stop()` signals the live run's whole tree at once from the caller's thread.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_dir: Path,
        token: str,
        restart_delay_s: float = 1.0,
        min_run_s: float = 10.0,
        crash_loop_runs: int = 3,
        clock: Clock = SYSTEM_CLOCK,
        max_log_bytes: int | None = None,
    ) -> None:
        if crash_loop_runs < 1 or restart_delay_s < 0 or min_run_s < 0:
            raise ValueError("need crash_loop_runs >= 1, restart_delay_s >= 0, min_run_s >= 0")
        self._argv = list(argv)
        self._cwd = Path(cwd)
        self._env = dict(env)
        self._log_dir = Path(log_dir)
        self._token = check_token(token)
        self._restart_delay_s = restart_delay_s
        self._min_run_s = min_run_s
        self._crash_loop_runs = crash_loop_runs
        self._clock = clock
        self._max_log_bytes = max_log_bytes
        self._lock = threading.RLock()  # re-entrant: a signal handler may call in
        self._handles: list[ProcessHandle] = []
        self._current: ProcessHandle | None = None  # the run the supervisor has not finished
        self._started = False
        self._stop_mono: float | None = None
        self._stop_event = threading.Event()
        self._stop_lock = threading.RLock()
        self._stop_grace_s = 0.0
        self._stop_result: StopResult | None = None
        self._late_stop: tuple[float, StopResult] | None = None  # a run spawned during stop()
        self._reason: str | None = None
        self._thread = threading.Thread(target=self._supervise, name="background", daemon=True)

    def start(self) -> None:
        """Start run 1 now (errors raise here) and the supervisor that restarts runs."""
        with self._stop_lock:  # a concurrent stop() waits until run 1 is there to be stopped
            if self._started or self._stop_result is not None:
                raise RuntimeError("a BackgroundLoop can be started once, before stop()")
            self._started = True
            self._launch(1)
            self._thread.start()

    def stop(self, grace_s: float = 0.05) -> StopResult:
        """Stop restarting and stop the live run's whole tree; idempotent (the first result).

        latency_s runs from the request until the last process carrying the token was seen gone.
        """
        with self._stop_lock:
            if self._stop_result is not None:
                return self._stop_result
            start = self._clock.monotonic()
            with self._lock:
                self._stop_mono = start
                self._stop_grace_s = grace_s
                self._stop_event.set()
                handle = self._current
            parts = [self._timed_stop(handle, grace_s)] if handle is not None else []
            if self._thread.is_alive():
                self._thread.join(JOIN_TIMEOUT_S)
            if self._late_stop is not None:
                parts.append(self._late_stop)
            if not parts:  # between runs: make sure no leftover carries the token
                called = self._clock.monotonic()
                parts.append((called, kill_tagged(self._token, grace_s, clock=self._clock)))
            self._stop_result = StopResult(
                latency_s=max(called + r.latency_s for called, r in parts) - start,
                escalated=any(r.escalated for _, r in parts),
                survivors=sorted({pid for _, r in parts for pid in r.survivors}),
            )
            return self._stop_result

    @property
    def runs(self) -> list[BackgroundRun]:
        """A snapshot of every run so far, in order."""
        with self._lock:
            return [self._record(k, h) for k, h in enumerate(self._handles, 1)]

    def live_pids(self) -> list[int]:
        """Pids of the current run's tree; [] between runs."""
        with self._lock:
            handle = self._current
        return handle.pids() if handle is not None and handle.returncode is None else []

    def live_since_mono(self) -> float | None:
        """Start of the current run; None between runs."""
        with self._lock:
            handle = self._current
        if handle is None or handle.returncode is not None:
            return None
        return handle.started_mono

    @property
    def ineffective(self) -> bool:
        with self._lock:
            return self._reason is not None

    @property
    def ineffective_reason(self) -> str | None:
        with self._lock:
            return self._reason

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Poll predicate until it holds (True) or timeout_s has passed on the clock (False)."""
        deadline = self._clock.monotonic() + timeout_s
        while not predicate():
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                return False
            self._clock.sleep(min(WAIT_UNTIL_POLL_S, remaining))
        return True

    # --- the supervisor thread

    def _supervise(self) -> None:
        try:
            self._restart_until_stopped()
        except Exception as exc:  # never die silently: the engine reads the reason
            with self._lock:
                self._reason = self._reason or f"background supervisor failed: {exc!r}"

    def _restart_until_stopped(self) -> None:
        while True:
            with self._lock:
                handle = self._current
            if handle is None:
                return
            handle.wait()
            if not self._stop_event.is_set():
                kill_tagged(self._token, STRAGGLER_GRACE_S, clock=self._clock)
            with self._lock:
                self._current = None
                if self._stop_event.is_set():
                    return
                self._reason = self._reason or crash_loop_reason(
                    [self._record(k, h) for k, h in enumerate(self._handles, 1)],
                    self._min_run_s,
                    self._crash_loop_runs,
                )
                if self._reason is not None:
                    return
            if not self._sleep(self._restart_delay_s):
                return
            index = len(self._handles) + 1
            try:
                handle = self._launch(index)
            except HyperwattError as exc:
                with self._lock:
                    self._reason = f"run {index} could not start: {exc}"
                return
            if self._stop_event.is_set():  # stop() came while we were spawning: stop it here
                self._late_stop = self._timed_stop(handle, self._stop_grace_s)

    def _timed_stop(self, handle: ProcessHandle, grace_s: float) -> tuple[float, StopResult]:
        called = self._clock.monotonic()
        return called, handle.stop(grace_s)

    def _launch(self, index: int) -> ProcessHandle:
        handle = spawn(
            self._argv,
            cwd=self._cwd,
            env=self._env,
            log_path=self._log_dir / f"run-{index}.log",
            token=self._token,
            clock=self._clock,
            max_log_bytes=self._max_log_bytes,
        )
        with self._lock:
            self._handles.append(handle)
            self._current = handle
        return handle

    def _sleep(self, seconds: float) -> bool:
        """Sleep on the clock in short slices; False as soon as stop() is called."""
        deadline = self._clock.monotonic() + seconds
        while not self._stop_event.is_set():
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                return True
            self._clock.sleep(min(SLICE_S, remaining))
        return False

    def _record(self, index: int, handle: ProcessHandle) -> BackgroundRun:
        code = handle.returncode  # read first: the handle sets ended_* before returncode
        ended_mono = handle.ended_mono if code is not None else None
        ended_wall = handle.ended_wall if code is not None else None
        stop = self._stop_mono
        return BackgroundRun(
            index=index,
            started_wall=handle.started_wall,
            started_mono=handle.started_mono,
            ended_wall=ended_wall,
            ended_mono=ended_mono,
            exit_code=code,
            log_path=handle.log_path,
            stopped_by_us=stop is not None and (ended_mono is None or ended_mono >= stop),
            killed=tuple(handle.killed) if code is not None else (),
        )


def crash_loop_reason(
    runs: Sequence[BackgroundRun], min_run_s: float, crash_loop_runs: int
) -> str | None:
    """Why the loop is ineffective, or None.

    Ineffective: the last crash_loop_runs finished runs we did not stop each lasted < min_run_s.
    """
    finished = [r for r in runs if r.ended_mono is not None and not r.stopped_by_us]
    streak = finished[-crash_loop_runs:]
    if len(streak) < crash_loop_runs:
        return None
    if any((r.duration_s or 0.0) >= min_run_s for r in streak):
        return None
    exits = [describe_exit(r.exit_code) for r in streak]
    how = exits[0] if len(set(exits)) == 1 else ", ".join(exits)
    line = last_line(streak[-1].log_path)
    tail = f"last log line: {line[:200]!r}" if line else "log empty"
    return f"{crash_loop_runs} consecutive runs exited within {min_run_s:g} s ({how}); {tail}"


def describe_exit(code: int | None) -> str:
    """'exit 1', 'killed by SIGSEGV', or 'running'."""
    if code is None:
        return "running"
    if code >= 0:
        return f"exit {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"
