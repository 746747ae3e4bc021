"""kill -9 of the runner: the guard must take the whole training tree down within 2 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hyperwatt.process import find_tagged, spawn
from proc_helpers import TREE_SCRIPT, base_env, running, tree_pids, wait_for
from tests.conftest import ESCAPE_TRAIN

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


def _escapers(where: Path) -> list[int]:
    return [int(p.name) for p in where.glob("escapers/*")] if where.exists() else []


def test_a_daemon_that_escaped_the_tree_is_killed_when_the_training_exits(tmp_path: Path, token: str):
    """fork + setsid + fork + exec with an empty environment (no token), ignoring SIGTERM."""
    (tmp_path / "escape.py").write_text(ESCAPE_TRAIN)
    t0 = time.monotonic()
    handle = spawn([sys.executable, "escape.py"], cwd=tmp_path, env=base_env(),
                   log_path=tmp_path / "training.log", token=token)
    assert handle.wait(timeout=60) == 0
    (daemon,) = _escapers(tmp_path)
    assert not running(daemon)  # gone before wait() returned: nothing runs into the next experiment
    assert len(handle.killed) == 1 and handle.killed[0].startswith(f"pid {daemon}: ")
    assert "signal.SIG_IGN" in handle.killed[0]
    # the training's end is when it exited, not when its guard had finished the kill (0.5 s grace)
    assert handle.ended_mono is not None and handle.ended_mono <= time.monotonic()
    assert handle.ended_mono - t0 >= 0


RUNNER_ESCAPE = """
import os, sys, time
from pathlib import Path
from hyperwatt.process import spawn

out, token = sys.argv[1:]
spawn([sys.executable, "escape.py"], cwd=Path(out), env=dict(os.environ),
      log_path=Path(out) / "training.log", token=token)
print("spawned", flush=True)
time.sleep(120)
"""


def test_kill_9_of_the_runner_as_the_training_exits_leaves_no_daemon(tmp_path: Path, token: str):
    """The runner dies while the guard is still clearing what the training left (SIGTERM ignored)."""
    (tmp_path / "escape.py").write_text(ESCAPE_TRAIN)
    (tmp_path / "runner.py").write_text(RUNNER_ESCAPE)
    runner = subprocess.Popen([sys.executable, str(tmp_path / "runner.py"), str(tmp_path), token],
                              stdout=subprocess.PIPE)
    try:
        assert runner.stdout is not None and runner.stdout.readline() == b"spawned\n"
        assert wait_for(lambda: "escaped; trained" in (tmp_path / "training.log").read_text(), 60)
        runner.send_signal(signal.SIGKILL)  # the guard is in its SIGTERM grace for the daemon now
        runner.wait()
        (daemon,) = _escapers(tmp_path)
        assert wait_for(lambda: not running(daemon), 10.0), "the escaped daemon survived the runner"
        assert wait_for(lambda: not find_tagged(token), 10.0)  # the guard too, its duty done
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for pid in _escapers(tmp_path):
            if running(pid):
                os.kill(pid, signal.SIGKILL)
