"""Process trees: finding processes by their token and stopping a set of processes at once."""

from __future__ import annotations

import re
import signal
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

import psutil

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.process.proctable import snapshot

POLL_S = 0.005
KILL_WAIT_S = 5.0
PF_EXITING = 0x4  # Linux task flag: the process took a fatal signal and is being torn down

_TOKEN_RE = re.compile(r"[^\s\x00-\x1f\x7f]{1,256}")  # printable, no spaces


@dataclass(frozen=True)
class StopResult:
    """How stopping a process tree went."""

    latency_s: float  # from the stop request until the last process of the tree was seen gone
    escalated: bool  # SIGKILL was needed: a process still ran (was not already exiting) after the grace
    survivors: list[int] = field(default_factory=list)  # pids still alive afterwards


def new_token(prefix: str = "hw") -> str:
    """A fresh token, unique across hosts and time: ``<prefix>-<32 hex digits>``."""
    return check_token(f"{prefix}-{uuid.uuid4().hex}")


def check_token(token: str) -> str:
    """Return token if it is usable in an environment variable and a /proc scan, else raise."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise ValueError(f"bad process token {token!r}: 1-256 printable characters, no spaces")
    return token


def find_tagged(token: str) -> list[psutil.Process]:
    """Live processes (zombies excluded) whose environment has HYPERWATT_TOKEN=token."""
    return [p for p, _ in scan_tokens({check_token(token)})]


def scan_tokens(tokens: Collection[str]) -> list[tuple[psutil.Process, str]]:
    """Every live process (but this one) carrying one of the tokens, with the token it carries."""
    table = snapshot(read_tokens=True)
    hits = {pid: row.token for pid, row in table.items()
            if row.token is not None and row.token in tokens and not row.zombie}
    return [(proc, hits[proc.pid]) for proc in to_processes(hits) if is_alive(proc)]


def kill_tagged(token: str, grace_s: float = 2.0, *, clock: Clock = SYSTEM_CLOCK) -> StopResult:
    """SIGTERM every process carrying the token, SIGKILL what is left after grace_s."""
    check_token(token)
    return terminate_processes(lambda: find_tagged(token), grace_s, clock=clock)


def terminate_processes(
    collect: Callable[[], Iterable[psutil.Process]],
    grace_s: float,
    *,
    clock: Clock = SYSTEM_CLOCK,
    signal_groups: Callable[[int], None] | None = None,
    verify: Callable[[], Iterable[psutil.Process]] | None = None,
    supervisors: Collection[int] = (),
) -> StopResult:
    """Stop every process `collect()` returns as one tree.

    The processes are listed and signalled (SIGTERM) one by one first, so a parent dying early
    cannot orphan children before they are known; then `signal_groups(sig)` signals whole
    process groups. They are polled every POLL_S and sent SIGKILL after grace_s. Once all are
    gone, `verify()` (default: `collect`) looks again; anything new is stopped the same way.
    The latency ends when the last process was seen gone (a verification that finds nothing
    does not count). Gives up KILL_WAIT_S after the escalation and reports the survivors.
    `supervisors` (the guard) only wait for the others to die: one still there after the grace
    does not count as SIGKILL needed.
    """
    verify = verify or collect
    start = clock.monotonic()
    targets: set[psutil.Process] = set()
    sig = signal.SIGTERM

    def add(procs: Iterable[psutil.Process]) -> bool:
        fresh = [p for p in procs if p not in targets]
        for proc in fresh:
            targets.add(proc)
            _send(proc, sig)
        return bool(fresh)

    add(collect())
    if signal_groups is not None:
        signal_groups(sig)
    escalated = False
    deadline = start + grace_s
    gone_mono: float | None = None
    while True:
        alive = [p for p in targets if is_alive(p)]
        now = clock.monotonic()
        if not alive:
            gone_mono = now
            if add(verify()):
                gone_mono = None
                if now < deadline + KILL_WAIT_S:
                    continue
            break
        if sig == signal.SIGTERM and now >= deadline:
            # a process that is only tearing down (a CUDA context takes ~50 ms) did not need it
            escalated = not all(p.pid in supervisors or exiting(p.pid) for p in alive)
            sig = signal.SIGKILL
            if signal_groups is not None:
                signal_groups(sig)
            for proc in alive:
                _send(proc, sig)
            add(collect())
        elif sig == signal.SIGKILL and now >= deadline + KILL_WAIT_S:
            break
        clock.sleep(POLL_S)
    end = gone_mono if gone_mono is not None else clock.monotonic()
    survivors = sorted(p.pid for p in targets if is_alive(p))
    return StopResult(latency_s=end - start, escalated=escalated, survivors=survivors)


def to_processes(pids: Iterable[int]) -> list[psutil.Process]:
    """psutil handles (which detect pid reuse from here on) for the pids still there."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            pass
    return procs


def is_alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (a pid reused by another process counts as gone)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def _send(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


def command_line(pid: int) -> str | None:
    """The process's command line (arguments joined by spaces), or None when it is gone."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return None


def exiting(pid: int) -> bool:
    """Whether the process is already dying (a zombie, or flagged PF_EXITING); False off Linux."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return stat_exiting(fh.read())
    except OSError:
        return False


def stat_exiting(stat: bytes) -> bool:
    """`exiting` from the text of /proc/<pid>/stat (state is the field after the command name,
    flags the seventh after it; the command name may hold spaces and parentheses)."""
    fields = stat[stat.rindex(b")") + 2:].split()
    return fields[0] in (b"Z", b"X", b"x") or bool(int(fields[6]) & PF_EXITING)
