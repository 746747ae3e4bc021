"""Stopping whole trees: grandchildren that escaped into their own session or group, escalation."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from hyperwatt.process import ProcessHandle, find_tagged, kill_tagged, spawn
from proc_helpers import TREE_SCRIPT, base_env, running, tree_pids


def _spawn_tree(tmp_path: Path, token: str, *extra: str) -> tuple[ProcessHandle, dict[str, int]]:
    path = tmp_path / "tree.py"
    path.write_text(TREE_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    argv = [sys.executable, str(path), str(out), *extra]
    handle = spawn(argv, cwd=tmp_path, env=base_env(), log_path=tmp_path / "log.txt", token=token)
    return handle, tree_pids(out)


def test_stop_kills_the_whole_tree_including_escaped_grandchildren(tmp_path, token):
    handle, pids = _spawn_tree(tmp_path, token)
    assert handle.pid == pids["training"]
    assert set(pids.values()) <= set(handle.pids())  # the scrubbed one is found through the guard
    tagged = {p.pid for p in find_tagged(token)}
    assert {pids["plain"], pids["session"], pids["group"]} <= tagged
    assert pids["scrubbed"] not in tagged

    result = handle.stop(grace_s=2.0)

    assert result.survivors == [] and not result.escalated
    assert 0 < result.latency_s < 2.0
    assert not any(running(pid) for pid in pids.values())
    assert handle.returncode == -signal.SIGTERM
    assert handle.pids() == [] and find_tagged(token) == []


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path, token):
    handle, pids = _spawn_tree(tmp_path, token, "ignore-term")
    result = handle.stop(grace_s=0.2)
    assert result.escalated and result.survivors == []
    assert 0.2 <= result.latency_s < 3.0
    assert handle.returncode == -signal.SIGKILL
    assert not any(running(pid) for pid in pids.values())


def test_a_supervisor_outliving_the_grace_does_not_count_as_sigkill_needed(tmp_path):
    """The guard waits for its training to finish dying; only the training's own refusal counts."""
    import subprocess

    from hyperwatt.process.tree import terminate_processes, to_processes

    ignoring = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(60)"
    procs = [subprocess.Popen([sys.executable, "-c", ignoring], stdout=subprocess.PIPE) for _ in range(2)]
    try:
        for proc in procs:
            proc.stdout.readline()  # the handler is installed
        supervisor, worker = procs
        as_supervisor = terminate_processes(lambda: to_processes([supervisor.pid]), 0.1,
                                            supervisors=(supervisor.pid,))
        plain = terminate_processes(lambda: to_processes([worker.pid]), 0.1)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert not as_supervisor.escalated and as_supervisor.survivors == []
    assert plain.escalated and plain.survivors == []


def test_stop_is_idempotent_and_fast_once_stopped(tmp_path, token):
    handle, _ = _spawn_tree(tmp_path, token)
    first = handle.stop(grace_s=1.0)
    second = handle.stop(grace_s=1.0)
    assert first.survivors == second.survivors == []
    assert not second.escalated
    assert handle.returncode == -signal.SIGTERM


def test_leftover_daemons_are_gone_when_wait_returns(script, tmp_path, token):
    argv = script(
        "daemonize",
        """
        import subprocess, sys
        kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               start_new_session=True, stdout=subprocess.DEVNULL)
        print(kid.pid)
        """,
    )
    handle = spawn(argv, cwd=tmp_path, env=base_env(), log_path=tmp_path / "log.txt", token=token)
    assert handle.wait(10) == 0
    daemon = int((tmp_path / "log.txt").read_text())
    assert not running(daemon) and handle.pids() == []  # the guard cleared its tree before exiting
    assert handle.killed[0].startswith(f"pid {daemon}: ")
    result = handle.stop(grace_s=1.0)  # still safe afterwards
    assert result.survivors == []


def test_wait_returns_even_if_a_leftover_grandchild_holds_the_log_pipe(script, tmp_path, token):
    argv = script(
        "holder",
        """
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c",
                          "import time; print('late line', flush=True); time.sleep(0.5);"
                          "print('after parent', flush=True); time.sleep(60)"])
        print("parent done", flush=True)
        """,
    )
    handle = spawn(argv, cwd=tmp_path, env=base_env(), log_path=tmp_path / "log.txt", token=token)
    assert handle.wait(15) == 0  # the guard killed the holder: the pipe closed with it
    assert "parent done" in (tmp_path / "log.txt").read_text()
    assert len(handle.killed) == 1 and "after parent" in handle.killed[0]
    assert handle.stop(grace_s=1.0).survivors == []


def test_kill_tagged_kills_every_process_with_the_token_and_only_those(script, tmp_path, token):
    other = token + "-other"
    sleeper = script("sleeper", "import time; time.sleep(60)")
    mine = spawn(sleeper, cwd=tmp_path, env=base_env(), log_path=tmp_path / "a.log", token=token)
    theirs = spawn(sleeper, cwd=tmp_path, env=base_env(), log_path=tmp_path / "b.log", token=other)
    try:
        result = kill_tagged(token, grace_s=1.0)
        assert result.survivors == [] and not result.escalated
        assert mine.wait(5) == -signal.SIGTERM
        assert theirs.poll() is None and running(theirs.pid)
    finally:
        theirs.stop(grace_s=1.0)




def test_a_process_already_tearing_down_did_not_need_sigkill():
    from hyperwatt.process.tree import stat_exiting

    running = b"4242 (python3) S 1 4242 4242 0 -1 4194560 900 0 0 0 12 3 0 0 20 0 4 0 77 0 0"
    assert not stat_exiting(running)
    tearing_down = b"4242 (python3) D 1 4242 4242 0 -1 4194564 900 0 0 0 12 3 0 0 20 0 4 0 77 0 0"
    assert stat_exiting(tearing_down)  # flags 0x400104: PF_EXITING (0x4) set
    assert stat_exiting(b"7 (odd) name)) Z 1 7 7 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0")


def test_the_own_process_is_not_exiting():
    import os

    from hyperwatt.process.tree import exiting

    assert not exiting(os.getpid())
    assert not exiting(2**22 + 12345)  # no such process: not "exiting"
