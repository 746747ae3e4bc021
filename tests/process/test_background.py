"""The background loop: run records, restart delay, crash-loop detection, prompt stop."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import hyperwatt.process.background as background
from hyperwatt.process import (
    BackgroundLoop,
    BackgroundRun,
    ProcessHandle,
    crash_loop_reason,
    describe_exit,
    find_tagged,
)
from proc_helpers import base_env, running, wait_for

UNIMPLEMENTED = """
import sys, time
time.sleep(0.2)
print("CNN training not yet implemented", flush=True)
sys.exit(1)
"""


def _loop(argv: list[str], tmp_path: Path, token: str, **kw: float) -> BackgroundLoop:
    return BackgroundLoop(
        argv, cwd=tmp_path, env=base_env(), log_dir=tmp_path / "background", token=token, **kw
    )


def _finished(loop: BackgroundLoop, n: int) -> bool:
    return sum(r.ended_mono is not None for r in loop.runs) >= n


def test_runs_are_recorded_with_restart_delay_exit_codes_and_logs(script, tmp_path, token):
    argv = script("short", "import time; time.sleep(0.3); print('trained', flush=True)")
    loop = _loop(argv, tmp_path, token, restart_delay_s=0.25, min_run_s=0.1)
    loop.start()
    assert loop.wait_until(lambda: _finished(loop, 3) and loop.live_since_mono() is not None, 20)
    result = loop.stop()
    runs = loop.runs

    assert [r.index for r in runs] == list(range(1, len(runs) + 1)) and len(runs) >= 4
    for run in runs[:3]:
        assert run.exit_code == 0 and not run.stopped_by_us
        assert run.duration_s is not None and 0.3 <= run.duration_s < 3.0
        assert run.log_path == tmp_path / "background" / f"run-{run.index}.log"
        assert run.log_path.read_text() == "trained\n"
        assert run.started_wall > 1e9 and run.ended_wall is not None
    for before, after in zip(runs, runs[1:]):
        assert before.ended_mono is not None
        assert 0.25 <= after.started_mono - before.ended_mono < 3.0
    last = runs[-1]
    assert last.stopped_by_us and last.exit_code == -signal.SIGTERM
    assert result.survivors == [] and not loop.ineffective
    assert loop.live_pids() == [] and loop.live_since_mono() is None


def test_unimplemented_background_is_flagged_ineffective_and_not_restarted(script, tmp_path, token):
    loop = _loop(script("cnn", UNIMPLEMENTED), tmp_path, token, restart_delay_s=0.05, min_run_s=1.0)
    loop.start()
    assert loop.wait_until(lambda: loop.ineffective, 20)
    time.sleep(0.3)  # longer than a restart delay plus a run: nothing new may start
    runs = loop.runs
    assert len(runs) == 3
    assert all(r.exit_code == 1 and not r.stopped_by_us for r in runs)
    assert all(r.duration_s is not None and 0.2 <= r.duration_s < 1.0 for r in runs)
    assert loop.ineffective_reason == (
        "3 consecutive runs exited within 1 s (exit 1); "
        "last log line: 'CNN training not yet implemented'"
    )
    assert loop.live_since_mono() is None and loop.live_pids() == []
    result = loop.stop()
    assert result.survivors == [] and len(loop.runs) == 3


def test_a_background_that_crashes_midway_is_recorded_and_restarted(script, tmp_path, token):
    # Run 1 trains for a while then crashes (exit 3); later runs keep training until stopped.
    argv = script(
        "crashy",
        """
        import os, sys, time
        flag = os.path.join(sys.argv[1], "crashed-once")
        if not os.path.exists(flag):
            open(flag, "w").close()
            time.sleep(0.4)
            print("CUDA error: an illegal memory access", flush=True)
            os._exit(3)
        time.sleep(60)
        """,
    ) + [str(tmp_path)]
    loop = _loop(argv, tmp_path, token, restart_delay_s=0.1, min_run_s=0.3, crash_loop_runs=2)
    loop.start()
    assert loop.wait_until(lambda: len(loop.runs) == 2 and loop.live_since_mono() is not None, 20)
    first, second = loop.runs
    assert first.exit_code == 3 and not first.stopped_by_us and first.duration_s >= 0.4
    assert second.exit_code is None and second.ended_mono is None and second.duration_s is None
    assert 0.1 <= second.started_mono - first.ended_mono
    assert not loop.ineffective
    assert loop.live_since_mono() == second.started_mono
    live = loop.live_pids()
    assert live and all(running(pid) for pid in live)
    loop.stop()
    assert loop.runs[1].stopped_by_us and loop.runs[1].exit_code == -signal.SIGTERM


def test_stop_is_fast_and_kills_the_live_tree(script, tmp_path, token):
    argv = script(
        "trainer",
        """
        import subprocess, sys, time
        sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
        subprocess.Popen(sleeper, start_new_session=True)
        print("training", flush=True)
        time.sleep(60)
        """,
    )
    loop = _loop(argv, tmp_path, token, restart_delay_s=0.1)
    loop.start()
    log = tmp_path / "background" / "run-1.log"
    assert loop.wait_until(lambda: log.exists() and "training" in log.read_text(), 10)
    assert wait_for(lambda: len(loop.live_pids()) >= 3, 5)  # guard, training, grandchild
    pids = loop.live_pids()

    result = loop.stop(grace_s=0.05)

    assert result.survivors == [] and not result.escalated
    assert 0 < result.latency_s < 1.0  # the 100 ms target is checked on the GPU machine
    assert not any(running(pid) for pid in pids) and find_tagged(token) == []
    (run,) = loop.runs
    assert run.stopped_by_us and run.exit_code == -signal.SIGTERM


def test_stop_escalates_when_the_background_ignores_sigterm(script, tmp_path, token):
    argv = script(
        "stubborn",
        """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
        """,
    )
    loop = _loop(argv, tmp_path, token)
    loop.start()
    log = tmp_path / "background" / "run-1.log"
    assert loop.wait_until(lambda: log.exists() and "ready" in log.read_text(), 10)
    result = loop.stop(grace_s=0.05)
    assert result.escalated and result.survivors == [] and result.latency_s < 2.0
    assert loop.runs[0].exit_code == -signal.SIGKILL and loop.runs[0].stopped_by_us


def test_stop_during_the_restart_delay_starts_nothing_new(script, tmp_path, token):
    loop = _loop(script("quick", "pass"), tmp_path, token, restart_delay_s=30.0, min_run_s=0.0)
    loop.start()
    assert loop.wait_until(lambda: _finished(loop, 1), 10)
    assert loop.live_since_mono() is None and loop.live_pids() == []
    started = time.monotonic()
    result = loop.stop()
    assert time.monotonic() - started < 1.0 and result.latency_s < 1.0
    assert result.survivors == [] and not result.escalated
    (run,) = loop.runs
    assert run.exit_code == 0 and not run.stopped_by_us


def test_stop_is_idempotent_and_start_only_once(script, tmp_path, token):
    loop = _loop(script("long", "import time; time.sleep(60)"), tmp_path, token)
    loop.start()
    with pytest.raises(RuntimeError):
        loop.start()
    first = loop.stop()
    assert loop.stop() is first
    assert len(loop.runs) == 1 and loop.runs[0].stopped_by_us
    with pytest.raises(RuntimeError):
        loop.start()


def test_stop_before_start_is_harmless(tmp_path, token):
    loop = _loop(["true"], tmp_path, token)
    result = loop.stop()
    assert result.survivors == [] and loop.runs == []


def test_wait_until_times_out_on_the_clock(tmp_path, token):
    loop = _loop(["true"], tmp_path, token)
    started = time.monotonic()
    assert not loop.wait_until(lambda: False, 0.1)
    assert 0.1 <= time.monotonic() - started < 1.0
    assert loop.wait_until(lambda: True, 0.0)


def _run(index: int, duration_s: float | None, exit_code: int | None, log: Path, stopped=False):
    start = 100.0 + 10 * index
    return BackgroundRun(
        index=index,
        started_wall=1e9 + start,
        started_mono=start,
        ended_wall=None if duration_s is None else 1e9 + start + duration_s,
        ended_mono=None if duration_s is None else start + duration_s,
        exit_code=exit_code,
        log_path=log,
        stopped_by_us=stopped,
    )


def test_crash_loop_rule_counts_only_consecutive_short_runs_we_did_not_stop(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("Traceback ...\nRuntimeError: CUDA out of memory\n")
    short = [_run(k, 0.5, 1, log) for k in (1, 2)]
    assert crash_loop_reason(short, 10.0, 3) is None
    assert crash_loop_reason([*short, _run(3, 12.0, 0, log)], 10.0, 3) is None
    assert crash_loop_reason([*short, _run(3, None, None, log)], 10.0, 3) is None
    assert crash_loop_reason([*short, _run(3, 0.1, -15, log, stopped=True)], 10.0, 3) is None
    mixed = [
        _run(1, 30.0, 0, log),
        _run(2, 0.5, 1, log),
        _run(3, 2.0, -11, log),
        _run(4, 0.5, 1, log),
    ]
    assert crash_loop_reason(mixed, 10.0, 3) == (
        "3 consecutive runs exited within 10 s (exit 1, killed by SIGSEGV, exit 1); "
        "last log line: 'RuntimeError: CUDA out of memory'"
    )
    log.write_text("")
    assert crash_loop_reason(mixed, 2.5, 2) == (
        "2 consecutive runs exited within 2.5 s (killed by SIGSEGV, exit 1); log empty"
    )


def test_run_duration_and_exit_descriptions(tmp_path):
    assert _run(1, 2.5, 0, tmp_path).duration_s == 2.5
    assert _run(1, None, None, tmp_path).duration_s is None
    assert describe_exit(0) == "exit 0"
    assert describe_exit(None) == "running"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-200) == "killed by signal 200"


def test_stop_while_the_next_run_is_being_spawned_stops_that_run_too(
    script, tmp_path, token, monkeypatch
):
    spawning = threading.Event()
    real_spawn = background.spawn

    def slow_spawn(*args: Any, **kwargs: Any) -> ProcessHandle:
        if kwargs["log_path"].name == "run-2.log":
            spawning.set()
            time.sleep(0.3)  # stop() arrives in here
        return real_spawn(*args, **kwargs)

    monkeypatch.setattr(background, "spawn", slow_spawn)
    argv = script(
        "first_quick",
        """
        import os, sys, time
        flag = os.path.join(sys.argv[1], "ran-once")
        if not os.path.exists(flag):
            open(flag, "w").close()
            sys.exit(0)
        time.sleep(60)
        """,
    ) + [str(tmp_path)]
    loop = _loop(argv, tmp_path, token, restart_delay_s=0.0, min_run_s=0.0)
    loop.start()
    assert spawning.wait(10)
    result = loop.stop(grace_s=0.5)
    first, second = loop.runs
    assert first.exit_code == 0 and not first.stopped_by_us
    assert second.stopped_by_us and second.exit_code == -signal.SIGTERM
    assert result.survivors == [] and find_tagged(token) == []
    assert second.ended_mono is not None
    # the run started after the stop request, so the latency covers its whole life
    assert result.latency_s >= second.ended_mono - second.started_mono


def test_what_a_background_run_leaves_behind_is_killed_and_named_per_run(tmp_path, token):
    from tests.conftest import ESCAPE_TRAIN

    (tmp_path / "escape.py").write_text(ESCAPE_TRAIN)
    loop = _loop([sys.executable, "escape.py"], tmp_path, token, restart_delay_s=30.0, min_run_s=0.0)
    loop.start()
    assert loop.wait_until(lambda: _finished(loop, 1), 60)
    loop.stop()
    (run,) = loop.runs
    (daemon,) = [int(p.name) for p in (tmp_path / "escapers").iterdir()]
    assert not running(daemon) and len(run.killed) == 1 and run.killed[0].startswith(f"pid {daemon}: ")
