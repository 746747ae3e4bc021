"""Helpers for process tests: a tree-building "training" and small polling utilities."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import psutil

# A training that starts four grandchildren that try to escape, records their pids, then sleeps:
#   plain      - an ordinary child
#   session    - setsid (own session and group)
#   group      - own process group
#   scrubbed   - own session AND an empty environment (no token: only the tree can find it)
TREE_SCRIPT = """
import os, signal, subprocess, sys, time
out = sys.argv[1]
if len(sys.argv) > 2 and sys.argv[2] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
sleeper = [sys.executable, "-c", "import signal, sys, time\\n"
           "if 'ignore-term' in sys.argv: signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
           "time.sleep(120)"] + sys.argv[2:]
kids = {
    "plain": subprocess.Popen(sleeper),
    "session": subprocess.Popen(sleeper, start_new_session=True),
    "group": subprocess.Popen(sleeper, preexec_fn=lambda: os.setpgid(0, 0)),
    "scrubbed": subprocess.Popen(sleeper, start_new_session=True, env={}),
}
def record(name, pid):  # atomically: readers never see a half-written file
    with open(os.path.join(out, name + ".tmp"), "w") as fh:
        fh.write(str(pid))
    os.rename(os.path.join(out, name + ".tmp"), os.path.join(out, name + ".pid"))
for name, kid in kids.items():
    record(name, kid.pid)
record("training", os.getpid())  # last: its presence means all are there
print("tree ready", flush=True)
time.sleep(120)
"""

TREE_NAMES = ("training", "plain", "session", "group", "scrubbed")



def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def tree_pids(out: Path, timeout_s: float = 10.0) -> dict[str, int]:
    """The pids TREE_SCRIPT wrote to `out`, once all are there."""
    assert wait_for(lambda: (out / "training.pid").exists(), timeout_s), "tree did not start"
    return {name: int((out / f"{name}.pid").read_text()) for name in TREE_NAMES}


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def base_env() -> dict[str, str]:
    return dict(os.environ)
