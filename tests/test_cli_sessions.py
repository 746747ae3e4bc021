"""Session arguments alike across commands, hints that work when pasted, counts that agree."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import FAST_TIMING, TOY_TRAIN, TOY_WORKLOAD
from tests.engine.runner_helpers import wait_for

OUT = "my results"  # not the default, and with a space: every hint must carry it, quoted


def hw(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "hyperwatt", *args], cwd=root, capture_output=True, text=True,
                          env=env, timeout=300)


def pasted(root: Path, line: str) -> subprocess.CompletedProcess:
    """Run a hint exactly as printed (`hyperwatt ...`), as a shell would split it."""
    words = shlex.split(line)
    assert words[0] == "hyperwatt", line
    return hw(root, *words[1:])


def _project(root: Path) -> None:
    (root / "train.py").write_text(TOY_TRAIN)
    (root / "toy.toml").write_text(TOY_WORKLOAD)
    (root / "plan.toml").write_text(
        f'name = "toy"\n{FAST_TIMING}\n[[experiments]]\nworkload = "toy/net"\nhyperparameters = {{ sleep = 5.0 }}\n'
        '[[experiments]]\nworkload = "toy/net"\nhyperparameters = { epochs = 3 }\n')


def test_interrupt_hint_resumes_when_pasted_and_counts_agree_after(tmp_path: Path) -> None:
    root = tmp_path
    _project(root)
    out = _interrupted_run(root)
    hint = next(line for line in out.splitlines() if "resume with:" in line).split("resume with:", 1)[1].strip()
    assert hint.endswith(f"-o '{OUT}'"), hint
    resumed = pasted(root, hint)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    again = hw(root, "resume", "-o", OUT)  # the latest session, complete: said, and not an error
    assert again.returncode == 0 and "already complete" in again.stdout, again.stdout + again.stderr

    (session,) = json.loads(hw(root, "status", "-o", OUT, "--json").stdout)["sessions"]
    counts = [session[k] for k in ("planned", "recorded", "succeeded", "invalid_or_failed", "not_measured",
                                   "superseded")]
    assert counts == [2, 2, 2, 0, 0, 1], session
    sid = session["session_id"]
    one = hw(root, "status", sid, "-o", OUT)
    assert "superseded by its rerun" in one.stdout and one.stdout.count("\tsucceeded ") == 2, one.stdout
    verification = (root / OUT / sid / "verification.md").read_text()
    assert "2 recorded" in verification and "1 interrupted run(s) superseded" in verification
    report = hw(root, "report", "-o", OUT)
    assert report.returncode == 0 and "2 experiments, 2 valid" in report.stdout, report.stdout

    verify = hw(root, "verify", "-o", OUT)  # the latest session, like report
    assert verify.returncode == 0 and sid in verify.stdout, verify.stderr


def _interrupted_run(root: Path) -> str:
    """`hyperwatt run plan.toml` interrupted (SIGINT) while its first training runs; its output."""
    proc = subprocess.Popen([sys.executable, "-m", "hyperwatt", "run", "plan.toml", "-W", "toy.toml", "-o", OUT],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
    assert wait_for(lambda: _training(root), 60), proc
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    return out


def _training(root: Path) -> bool:
    """The first training runs (its log exists while its record says running)."""
    return any('"status": "running"' in p.read_text() and (p.parent / "attempt-1" / "training.log").exists()
               for p in (root / OUT).glob("*/*/experiment.json"))


def test_session_errors_name_the_next_step(tmp_path: Path) -> None:
    _project(tmp_path)
    (tmp_path / "one.toml").write_text(f'name = "one"\n{FAST_TIMING}\n[[experiments]]\nworkload = "toy/net"\n')
    plan = hw(tmp_path, "plan", "one.toml", "-W", "toy.toml", "-o", OUT)
    assert "1 experiment, 1 to run, 0 skipped" in plan.stdout, plan.stdout
    assert hw(tmp_path, "run", "one.toml", "-W", "toy.toml", "-o", OUT, "-q").returncode == 0
    bogus = hw(tmp_path, "status", "bogus", "-o", OUT)
    assert bogus.returncode == 2 and f"list them all with `hyperwatt status -o '{OUT}'`" in bogus.stderr, bogus.stderr
    xlsx = hw(tmp_path, "export", "-f", "xlsx", "-o", OUT)
    assert xlsx.returncode == 2 and xlsx.stderr.startswith("hyperwatt: error: --format: unknown format 'xlsx'")
    assert "<input>" not in xlsx.stderr
    export = hw(tmp_path, "export", "-o", OUT)
    assert export.returncode == 0 and "1 experiment -> " in export.stdout, export.stdout
    skipped = hw(tmp_path, "plan", "one.toml", "-W", "toy.toml", "-o", OUT)
    row = next(line for line in skipped.stdout.splitlines() if "(in store)" in line)
    assert "unknown" not in row, row  # the store's durations estimate a skipped row too


def test_run_resume_after_the_plan_was_edited_names_the_unfinished_session(tmp_path: Path) -> None:
    """`run --resume` finishes only a session of this very plan; after an edit it starts a new one,
    and says so, naming the unfinished session and the pasteable line that finishes it."""
    root = tmp_path
    _project(root)
    _interrupted_run(root)
    (old,) = [s["session_id"] for s in json.loads(hw(root, "status", "-o", OUT, "--json").stdout)["sessions"]]
    plan = root / "plan.toml"
    plan.write_text(plan.read_text().replace("sleep = 5.0", "sleep = 0.1"))
    again = hw(root, "run", "plan.toml", "-W", "toy.toml", "-o", OUT, "--resume")
    assert again.returncode == 0, again.stdout + again.stderr
    note = next(line for line in again.stdout.splitlines() if line.startswith("note: --resume"))
    assert "starting a new session" in note and old in note, note
    hint = note.split("`")[1]
    assert hint == f"hyperwatt resume {old} -o '{OUT}'", note
    finished = pasted(root, hint)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert {s["session_id"]: s["status"] for s in json.loads(hw(root, "status", "-o", OUT, "--json").stdout)
            ["sessions"]}[old] == "completed"


def test_status_tells_a_live_runner_from_a_dead_one_and_the_hint_finishes_the_session(tmp_path: Path) -> None:
    """A runner killed with -9 cannot mark its session: status said `running` forever. The lock its
    kernel dropped tells: the session reads `running, runner gone` with the line that finishes it."""
    root = tmp_path
    _project(root)
    proc = subprocess.Popen([sys.executable, "-m", "hyperwatt", "run", "plan.toml", "-W", "toy.toml", "-o", OUT],
                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
    try:
        assert wait_for(lambda: _training(root), 60)
        alive = json.loads(hw(root, "status", "-o", OUT, "--json").stdout)["sessions"]
        assert [(s["status"], s["runner_gone"]) for s in alive] == [("running", False)], alive
        assert "runner gone" not in hw(root, "status", "-o", OUT).stdout
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    (dead,) = json.loads(hw(root, "status", "-o", OUT, "--json").stdout)["sessions"]
    assert (dead["status"], dead["runner_gone"]) == ("running", True), dead
    table = hw(root, "status", "-o", OUT).stdout
    assert "running, runner gone" in table, table
    one = hw(root, "status", dead["session_id"], "-o", OUT).stdout
    hint = next(line for line in one.splitlines() if "runner gone:" in line).split("`")[1]
    assert hint == f"hyperwatt resume {dead['session_id']} -o '{OUT}'", one
    finished = pasted(root, hint)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    (done,) = json.loads(hw(root, "status", "-o", OUT, "--json").stdout)["sessions"]
    assert (done["status"], done["runner_gone"], done["succeeded"]) == ("completed", False, 2), done
