"""One runner per results directory: the second is refused in one line naming the first; a dead
runner's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hyperwatt.store.lock import LOCK_NAME, RunnerLocked, runner_lock
from tests.engine.runner_helpers import make_project, start, wait_for

HOLD = """
import sys, time
from pathlib import Path
from hyperwatt.store.lock import runner_lock
with runner_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(results: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(results)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_runner_is_refused_naming_the_first(tmp_path):
    first = _holder(tmp_path)
    try:
        with pytest.raises(RunnerLocked) as err:
            with runner_lock(tmp_path):
                pass
        line = str(err.value)
        assert "\n" not in line and err.value.exit_code == 2
        assert f"pid {first.pid} on {socket.gethostname()}" in line and str(tmp_path / LOCK_NAME) in line
    finally:
        first.kill()
        first.wait()


def test_the_lock_of_a_killed_runner_is_taken_over(tmp_path):
    dead = _holder(tmp_path)
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == dead.pid  # its details are left behind
    with runner_lock(tmp_path):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    with runner_lock(tmp_path):  # released at the end of the block
        pass


def test_two_runs_on_one_results_directory(tmp_path):
    root = tmp_path / "p"
    make_project(root, '[[experiments]]\nworkload = "toy/net"\nhyperparameters = { sleep = 60 }\n')
    first = start(root, "run", "plan.toml")
    try:
        assert wait_for(lambda: (root / "results" / LOCK_NAME).exists()
                        and b"pid" in (root / "results" / LOCK_NAME).read_bytes(), 60)
        second = start(root, "run", "plan.toml")
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 2, out
        lines = out.strip().splitlines()
        assert len(lines) == 1 and f"pid {first.pid} on {socket.gethostname()}" in lines[0], out
        again = start(root, "resume", "any-session")
        out, _ = again.communicate(timeout=120)
        assert again.returncode == 2 and f"pid {first.pid}" in out, out
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130
