"""Leak scan: processes of ours that are still alive when none should be."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from hyperwatt.process.tree import scan_tokens, check_token


@dataclass(frozen=True)
class Leak:
    """A live process carrying one of the scanned tokens."""

    pid: int
    cmdline: str  # shell-quoted for display only; never run
    token: str


def leak_scan(tokens: Iterable[str]) -> list[Leak]:
    """Processes still alive (zombies excluded) carrying any of these tokens, by pid."""
    wanted = {check_token(t) for t in tokens}
    if not wanted:
        return []
    leaks = [Leak(pid=p.pid, cmdline=_cmdline(p), token=t) for p, t in scan_tokens(wanted)]
    return sorted(leaks, key=lambda leak: leak.pid)


def _cmdline(proc: psutil.Process) -> str:
    try:
        argv = proc.cmdline()
    except psutil.Error:
        argv = []
    if argv:
        return shlex.join(argv)
    try:
        return f"[{proc.name()}]"
    except psutil.Error:
        return "?"
