"""spawn() and ProcessHandle: literal argv, environment, exit codes, timestamps, errors."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hyperwatt.clock import FakeClock
from hyperwatt.errors import HyperwattError
from hyperwatt.process import TOKEN_ENV, ProcessHandle, spawn
from proc_helpers import base_env, running, wait_for

HOSTILE = [
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    "a b  c",
    "*",
    "'\"\\",
    "line1\nline2",
    "",
    "--lr=1e-3 && touch pwned",
    "ünïcødé",
]


def _run(argv: list[str], tmp_path: Path, token: str, **kw: Any) -> ProcessHandle:
    log = tmp_path / "log.txt"
    return spawn(argv, cwd=tmp_path, env=base_env(), log_path=log, token=token, **kw)


def test_argv_with_shell_metacharacters_reaches_the_child_literally(script, tmp_path, token):
    argv = script("echo_args", "import json, sys; print(json.dumps(sys.argv[1:]))")
    handle = _run(argv + HOSTILE, tmp_path, token)
    assert handle.wait(10) == 0
    assert json.loads((tmp_path / "log.txt").read_text()) == HOSTILE
    assert not (tmp_path / "pwned").exists()
    assert handle.argv == argv + HOSTILE


def test_token_reaches_child_and_grandchild_and_stdin_is_empty(script, tmp_path, token):
    argv = script(
        "env",
        """
        import os, subprocess, sys
        print("stdin:", repr(sys.stdin.read()))
        print("child:", os.environ["HYPERWATT_TOKEN"], os.environ["MY_VAR"])
        subprocess.run([sys.executable, "-c",
                        "import os; print('grandchild:', os.environ['HYPERWATT_TOKEN'])"])
        """,
    )
    env = base_env() | {"MY_VAR": "x y", TOKEN_ENV: "overridden-by-spawn"}
    handle = spawn(argv, cwd=tmp_path, env=env, log_path=tmp_path / "log.txt", token=token)
    assert handle.wait(10) == 0
    lines = (tmp_path / "log.txt").read_text().splitlines()
    assert lines == ["stdin: ''", f"child: {token} x y", f"grandchild: {token}"]


def test_cwd_is_the_given_directory(script, tmp_path, token):
    work = tmp_path / "work dir"
    work.mkdir()
    argv = script("cwd", "import os; print(os.getcwd())")
    handle = spawn(argv, cwd=work, env=base_env(), log_path=tmp_path / "log.txt", token=token)
    assert handle.wait(10) == 0
    assert (tmp_path / "log.txt").read_text().strip() == str(work)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("pass", 0),
        ("import sys; sys.exit(3)", 3),
        ("raise SystemExit(255)", 255),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", -signal.SIGKILL),
        ("import os, signal; os.kill(os.getpid(), signal.SIGUSR1)", -signal.SIGUSR1),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", -signal.SIGTERM),
    ],
)
def test_exit_codes_are_exact(script, tmp_path, token, body, expected):
    handle = _run(script("exit", body), tmp_path, token)
    assert handle.wait(10) == expected
    assert handle.returncode == expected
    assert handle.poll() == expected


def test_timestamps_bracket_the_run_and_use_the_clock(script, tmp_path, token):
    clock = FakeClock(start=50.0)
    argv = script("sleepy", "import time; time.sleep(0.3)")
    handle = _run(argv, tmp_path, token, clock=clock)
    assert (handle.started_mono, handle.started_wall) == (50.0, clock.time())
    assert handle.ended_mono is None and handle.poll() is None
    assert handle.wait(10) == 0
    assert (handle.ended_mono, handle.ended_wall) == (50.0, clock.time())


def test_duration_is_measured_on_the_real_clock(script, tmp_path, token):
    handle = _run(script("sleepy", "import time; time.sleep(0.4)"), tmp_path, token)
    before_end = time.monotonic()
    assert handle.wait(10) == 0
    assert handle.ended_mono is not None and handle.ended_wall is not None
    duration = handle.ended_mono - handle.started_mono
    assert 0.4 <= duration < 3.0
    assert abs((handle.ended_wall - handle.started_wall) - duration) < 0.05
    assert handle.started_mono < before_end


def test_wait_times_out_with_none_while_running(script, tmp_path, token):
    handle = _run(script("long", "import time; time.sleep(30)"), tmp_path, token)
    assert handle.wait(0.1) is None
    assert handle.poll() is None
    assert handle.stop(grace_s=1.0).survivors == []
    assert handle.returncode == -signal.SIGTERM


def test_pids_cover_training_and_its_children(script, tmp_path, token):
    argv = script(
        "parent",
        """
        import subprocess, sys, time
        kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        print(kid.pid, flush=True)
        time.sleep(30)
        """,
    )
    handle = _run(argv, tmp_path, token)
    log = tmp_path / "log.txt"
    assert wait_for(lambda: log.read_text().strip() != "")
    kid = int(log.read_text())
    assert {handle.pid, handle.guard_pid, kid} <= set(handle.pids())
    assert handle.pgid == handle.guard_pid != handle.pid
    handle.stop(grace_s=1.0)
    assert handle.pids() == []


def test_missing_executable_is_a_clear_error(tmp_path, token):
    with pytest.raises(HyperwattError, match="no-such-trainer.*executable not found"):
        _run(["no-such-trainer", "--epochs", "1"], tmp_path, token)


def test_non_executable_file_is_a_clear_error(tmp_path, token):
    path = tmp_path / "train.sh"
    path.write_text("echo hi\n")
    with pytest.raises(HyperwattError, match="train.sh.*permission denied"):
        _run([str(path)], tmp_path, token)


def test_missing_cwd_is_a_clear_error(script, tmp_path, token):
    with pytest.raises(HyperwattError, match="working directory .*nowhere does not exist"):
        spawn(
            script("x", "pass"),
            cwd=tmp_path / "nowhere",
            env=base_env(),
            log_path=tmp_path / "log.txt",
            token=token,
        )


@pytest.mark.parametrize("argv", [[], ["python", "a\0b"]])
def test_bad_argv_is_a_clear_error(tmp_path, token, argv):
    with pytest.raises(HyperwattError, match="cannot start"):
        _run(argv, tmp_path, token)


def test_bad_token_is_rejected(script, tmp_path):
    with pytest.raises(ValueError, match="bad process token"):
        _run(script("x", "pass"), tmp_path, "has space")


def test_spawn_from_a_thread_that_exits_keeps_the_training_alive(script, tmp_path, token):
    # PR_SET_PDEATHSIG would kill the training when the spawning thread ends; the guard must not.
    handles = []
    argv = script("long", "import time; time.sleep(30)")
    thread = threading.Thread(target=lambda: handles.append(_run(argv, tmp_path, token)))
    thread.start()
    thread.join()
    time.sleep(0.3)
    (handle,) = handles
    assert handle.poll() is None and running(handle.pid)
    handle.stop(grace_s=1.0)


def test_killing_the_guard_kills_the_training(script, tmp_path, token):
    handle = _run(script("long", "import time; time.sleep(30)"), tmp_path, token)
    os.kill(handle.guard_pid, signal.SIGKILL)
    assert handle.wait(5) == -signal.SIGKILL
    assert wait_for(lambda: not running(handle.pid), 2.0)


def test_running_pids_lists_the_tree_while_it_runs_and_nothing_after(script, tmp_path, token):
    """The CPU estimate polls this twice a second for every attempt it ever tracked: a finished
    attempt must cost nothing (it once scanned /proc for tokens, 32 attempts deep)."""
    argv = script("child", """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        print(child.pid, flush=True)
        time.sleep(30)
        """)
    handle = _run(argv, tmp_path, token)
    log = tmp_path / "log.txt"
    wait_for(lambda: log.exists() and log.read_text().strip())
    child = int(log.read_text().split()[0])
    assert {handle.guard_pid, handle.pid, child} <= set(handle.running_pids())
    handle.stop(grace_s=1.0)
    assert handle.running_pids() == []
