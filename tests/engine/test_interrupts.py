"""Interrupts, kill -9 and resume: nothing lost, nothing leaked, nothing run twice."""

from __future__ import annotations

import signal
import sqlite3
import time

import pytest

from tests.engine.runner_helpers import make_project, ours, records, running_training, start, wait_for

LONG = '''
[[experiments]]
workload = "toy/net"
hyperparameters = { sleep = 5.0, spawn_child = 1 }
[[experiments]]
workload = "toy/net"
hyperparameters = { epochs = 3 }
'''


#: An interrupted runner stops its training (1 s grace), then writes summary, verification and
#: report.html: ~2-4 s on a busy 2-core machine. The bound is well above 3x that (it took 6.4 s once).
STOP_BOUND_S = 20.0


def _statuses(root):
    db = sqlite3.connect(root / "results" / "hyperwatt.db")
    return db.execute("SELECT slot, status FROM experiments ORDER BY slot, started_wall").fetchall()


def _session(root):
    db = sqlite3.connect(root / "results" / "hyperwatt.db")
    return db.execute("SELECT session_id, status FROM sessions").fetchall()


def _resume_and_check(root, session_id):
    done = start(root, "resume", session_id)
    out, _ = done.communicate(timeout=180)
    assert done.returncode == 0, out
    finished = [(slot, status) for slot, status in _statuses(root) if status != "interrupted"]
    assert sorted(slot for slot, _ in finished) == [0, 1]  # every slot finished exactly once
    assert all(status == "succeeded" for _, status in finished)
    assert _session(root) == [(session_id, "completed")]


#: Each of these kills the runner mid-plan and resumes it through the command line (a run of ~5 s,
#: two CLI start-ups with their reports): `make test` runs them; test-fast keeps the interrupt and
#: resume path through tests/test_cli_sessions.py and test_sigterm_during_background_startup below.
kills_and_resumes = pytest.mark.slow


@kills_and_resumes
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_foreground(tmp_path, sig, code):
    root = tmp_path / "p"
    make_project(root, LONG)
    proc = start(root, "run", "plan.toml")
    assert wait_for(lambda: running_training(root) and len(ours(root)) >= 2), proc.stdout
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == code, out
    assert time.monotonic() - t0 < STOP_BOUND_S
    assert wait_for(lambda: not ours(root), 2.0), ours(root)
    (rec,) = records(root)
    assert rec["status"] == "interrupted" and rec["attempts"][0]["interrupted"]
    assert (root / "results" / rec["session_id"] / rec["experiment_id"] / "attempt-1" / "training.log").read_text()
    assert _session(root)[0][1] == "interrupted"
    _resume_and_check(root, rec["session_id"])


def test_sigterm_during_background_startup(tmp_path):
    root = tmp_path / "p"
    (root).mkdir()
    (root / "bg.py").write_text("import time\nprint('loading', flush=True)\ntime.sleep(60)\n")
    extra = '''
[workloads."bg/slow"]
argv = ["{python}", "bg.py"]
workdir = "."
[parallel]
min_run_s = 30
readiness_timeout_s = 60
'''
    make_project(root, '[[experiments]]\nworkload = "toy/net"\nmode = "parallel"\nbackground = { workload = "bg/slow" }\n',
                 extra=extra)
    proc = start(root, "run", "plan.toml")
    assert wait_for(lambda: len(ours(root)) >= 1 and any(r["status"] == "running" for r in records(root)))
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 143, out
    assert wait_for(lambda: not ours(root), 2.0)
    (rec,) = records(root)
    assert rec["status"] == "interrupted" and rec["attempts"] == []
    assert rec["background"]["runs"][0]["stopped_by_us"]


@kills_and_resumes
def test_sigint_during_cooldown_then_resume(tmp_path):
    root = tmp_path / "p"
    timing = '''
[timing]
idle_baseline_s = 0
retries = 0
[timing.cooldown]
min_s = 30
max_s = 60
'''
    make_project(root, '[[experiments]]\nworkload = "toy/net"\n[[experiments]]\nworkload = "toy/net"\n'
                       'hyperparameters = { epochs = 3 }\n', timing=timing)
    proc = start(root, "run", "plan.toml")
    assert wait_for(lambda: any(r["status"] == "succeeded" for r in records(root)))
    time.sleep(0.5)  # now cooling down
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 130, out
    assert time.monotonic() - t0 < STOP_BOUND_S
    assert [r["status"] for r in records(root)] == ["succeeded"]
    _resume_and_check(root, records(root)[0]["session_id"])


@kills_and_resumes
def test_kill_9_of_the_runner_leaves_nothing_and_resume_completes(tmp_path):
    root = tmp_path / "p"
    make_project(root, LONG)
    proc = start(root, "run", "plan.toml")
    assert wait_for(lambda: running_training(root) and len(ours(root)) >= 2)
    proc.kill()
    proc.communicate(timeout=10)
    assert wait_for(lambda: not ours(root), 2.0), ours(root)
    (rec,) = records(root)
    assert rec["status"] == "running"  # the runner had no chance to say more
    _resume_and_check(root, rec["session_id"])
    statuses = _statuses(root)
    assert (0, "interrupted") in statuses
