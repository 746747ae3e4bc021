"""kill -9 of the runner: the guard must take the whole training tree down within 2 s."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hyperwatt.process import find_tagged
from proc_helpers import TREE_SCRIPT, running, tree_pids

RUNNER = """
import os, sys, threading, time
from pathlib import Path
from hyperwatt.process import spawn

tree, out, token, mode, *tree_args = sys.argv[1:]

def go():
    spawn([sys.executable, tree, out, *tree_args], cwd=Path(out), env=dict(os.environ),
          log_path=Path(out) / "training.log", token=token)

if mode == "thread":  # the spawning thread ends long before the runner dies
    worker = threading.Thread(target=go)
    worker.start()
    worker.join()
else:
    go()
print("spawned", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize(
    ("mode", "tree_args"),
    [("main", []), ("thread", []), ("main", ["ignore-term"])],  # the last needs SIGKILL
)
def test_kill_9_of_the_runner_leaves_no_process_behind(
    tmp_path: Path, token: str, mode: str, tree_args: list[str]
):
    (tmp_path / "tree.py").write_text(TREE_SCRIPT)
    (tmp_path / "runner.py").write_text(RUNNER)
    out = tmp_path / "out"
    out.mkdir()
    runner_argv = [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "tree.py")]
    runner = subprocess.Popen(
        [*runner_argv, str(out), token, mode, *tree_args], stdout=subprocess.PIPE
    )
    try:
        assert runner.stdout is not None and runner.stdout.readline() == b"spawned\n"
        pids = tree_pids(out)
        time.sleep(0.2)  # the tree settles; a thread-bound death signal would have fired by now
        assert all(running(pid) for pid in pids.values())
        assert {p.pid for p in find_tagged(token)} >= {pids["training"], pids["session"]}

        runner.send_signal(signal.SIGKILL)
        runner.wait()
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < 2.0:
            if not find_tagged(token) and not any(running(pid) for pid in pids.values()):
                break
            time.sleep(0.02)
        assert find_tagged(token) == []
        assert [name for name, pid in pids.items() if running(pid)] == []
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
