"""Process trees: finding processes by their token and stopping a set of processes at once."""

from __future__ import annotations

import os
import re
import signal
import sys
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

import psutil

from hyperwatt.clock import SYSTEM_CLOCK, Clock

TOKEN_ENV = "HYPERWATT_TOKEN"
POLL_S = 0.005
KILL_WAIT_S = 5.0

_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}")
_TOKEN_PREFIX = f"{TOKEN_ENV}=".encode()
_HAS_PROC = sys.platform.startswith("linux") and os.path.isdir("/proc")


@dataclass(frozen=True)
class StopResult:
    """How stopping a process tree went."""

    latency_s: float  # from the stop request until no process of the tree is left
    escalated: bool  # SIGKILL was needed after the grace period
    survivors: list[int] = field(default_factory=list)  # pids still alive afterwards


def new_token(prefix: str = "hw") -> str:
    """A fresh token, unique across hosts and time: ``<prefix>-<32 hex digits>``."""
    return check_token(f"{prefix}-{uuid.uuid4().hex}")


def check_token(token: str) -> str:
    """Return token if it is usable in an environment variable and a /proc scan, else raise."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise ValueError(f"bad process token {token!r}: use letters, digits and ._:@+- only")
    return token


def find_tagged(token: str) -> list[psutil.Process]:
    """Live processes (zombies excluded) whose environment has HYPERWATT_TOKEN=token."""
    return [p for p, _ in scan_tokens({check_token(token)})]


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
) -> StopResult:
    """Stop every process `collect()` returns, and whatever it returns later, as one tree.

    The processes are listed and signalled one by one first (listing after a parent died could
    miss its orphans), then `signal_groups(sig)` is called (and again on escalation) so whole
    process groups get the signal. They are polled every POLL_S and sent SIGKILL after grace_s. `collect` is asked again once all known ones are gone, to catch late
    forks; the tree counts as stopped when that finds nothing new. Gives up KILL_WAIT_S after
    escalating and reports the survivors.
    """
    start = clock.monotonic()
    targets: set[psutil.Process] = set()
    sig = signal.SIGTERM

    def sweep() -> bool:
        fresh = [p for p in collect() if p not in targets]
        for proc in fresh:
            targets.add(proc)
            _send(proc, sig)
        return bool(fresh)

    sweep()  # before the group signal: a dying parent would orphan its untagged children
    if signal_groups is not None:
        signal_groups(signal.SIGTERM)
    escalated = False
    deadline = start + grace_s
    while True:
        alive = [p for p in targets if is_alive(p)]
        now = clock.monotonic()
        if not alive:
            if sweep() and now < deadline + KILL_WAIT_S:
                continue
            break
        if not escalated and now >= deadline:
            escalated = True
            sig = signal.SIGKILL
            if signal_groups is not None:
                signal_groups(signal.SIGKILL)
            for proc in alive:
                _send(proc, sig)
            sweep()
        elif escalated and now >= deadline + KILL_WAIT_S:
            break
        clock.sleep(POLL_S)
    latency_s = clock.monotonic() - start
    survivors = sorted(p.pid for p in targets if is_alive(p))
    return StopResult(latency_s=latency_s, escalated=escalated, survivors=survivors)


def scan_tokens(tokens: Collection[str]) -> list[tuple[psutil.Process, str]]:
    """Every live process (but this one) carrying one of the tokens, with the token it carries."""
    me = os.getpid()
    found: list[tuple[psutil.Process, str]] = []
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        carried = _token_of(proc)
        if carried in tokens and is_alive(proc):
            found.append((proc, carried))
    return found


def _token_of(proc: psutil.Process) -> str | None:
    """The process's HYPERWATT_TOKEN, or None (also when its environment cannot be read)."""
    if _HAS_PROC:  # raw read: several times cheaper than psutil's parsed environ()
        try:
            with open(f"/proc/{proc.pid}/environ", "rb") as fh:
                raw = fh.read()
        except OSError:
            return None
        for entry in raw.split(b"\0"):
            if entry.startswith(_TOKEN_PREFIX):
                return entry[len(_TOKEN_PREFIX) :].decode(errors="replace")
        return None
    try:
        return proc.environ().get(TOKEN_ENV)
    except psutil.Error:
        return None


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
