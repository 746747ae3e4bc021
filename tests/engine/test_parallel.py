"""Parallel mode on the CPU: background loop, readiness, coverage, prompt stop, ineffective backgrounds."""

from __future__ import annotations

import time

import psutil
import pytest

from hyperwatt.process import find_tagged

BG_SCRIPT = r'''
import argparse, sys, time
p = argparse.ArgumentParser()
p.add_argument("--behaviour", default="ok")
p.add_argument("--run-s", type=float, default=60.0)
a = p.parse_args()
if a.behaviour == "unimplemented":
    print("CNN training not yet implemented", flush=True)
    time.sleep(0.05)
    sys.exit(1)
print("background training started", flush=True)
time.sleep(a.run_s)
sys.exit(1 if a.behaviour == "crash" else 0)
'''

BG_WORKLOAD = '''
[workloads."bg/toy"]
argv = ["{python}", "bg.py"]
workdir = "."
min_run_s = 0.3
[workloads."bg/toy".hyperparameters]
behaviour = { flag = "--behaviour", type = "str", default = "ok" }
run_s = { flag = "--run-s", type = "float", default = 60.0 }

[parallel]
readiness_timeout_s = 15
crash_loop_runs = 3
restart_delay_s = 0.05
stop_grace_s = 0.05
'''


@pytest.fixture
def parallel_plan(write_plan, toy_dir):
    (toy_dir / "bg.py").write_text(BG_SCRIPT)

    def plan(fg: str, bg: str, retries: int = 0):
        return write_plan(f"""
{BG_WORKLOAD}
[[experiments]]
workload = "toy/net"
mode = "parallel"
hyperparameters = {{ {fg} }}
background = {{ workload = "bg/toy", hyperparameters = {{ {bg} }} }}
timing = {{ retries = {retries} }}
""")
    return plan


def _only(result):
    assert len(result.records) == 1
    return result.records[0]


def _assert_no_processes_left(rec):
    for token in (f"hw-{rec.experiment_id}-bg", f"hw-{rec.experiment_id}-a1"):
        assert find_tagged(token) == []


def test_effective_background_covers_the_foreground_and_stops_at_once(parallel_plan, run_toy):
    rec = _only(run_toy(parallel_plan('sleep = 1.0', '')))
    bg = rec.background
    assert rec.status == "succeeded", rec.status_reason
    assert bg.readiness.ready and "live for 0.3 s" in bg.readiness.reason
    assert bg.effective and bg.coverage == pytest.approx(1.0)
    assert len(bg.runs) == 1 and bg.runs[0].stopped_by_us and bg.runs[0].effective
    assert bg.stop.latency_s < 1.0 and bg.stop.survivors == []
    assert bg.runs[0].log == "background/run-1.log"
    assert rec.leaks == []
    _assert_no_processes_left(rec)


def test_unimplemented_background_is_flagged_before_the_foreground_runs(parallel_plan, run_toy, toy_dir):
    result = run_toy(parallel_plan('', 'behaviour = "unimplemented"'))
    rec = _only(result)
    assert rec.status == "invalid"
    assert rec.attempts == []  # the foreground run was not spent
    assert "not yet implemented" in rec.status_reason
    flags = {f.code: f for f in rec.flags}
    assert "background_ineffective" in flags and flags["background_ineffective"].severity == "error"
    assert "energy_unavailable" not in flags  # nothing ran to be measured: no sensor advice
    bg = rec.background
    assert not bg.effective and len(bg.runs) == 3 and all(r.exit_code == 1 for r in bg.runs)
    assert not any(r.effective for r in bg.runs)
    report = result.layout.verification.read_text()
    assert "backgrounds effective (really trained; no GPU on this machine) | 0/1" in report  # a CPU-only session
    assert "background_ineffective" in report


def test_background_crashing_mid_foreground_lowers_coverage_and_is_flagged(parallel_plan, run_toy):
    rec = _only(run_toy(parallel_plan('sleep = 3.0', 'behaviour = "crash", run_s = 1.2')))
    bg = rec.background
    assert rec.status == "invalid"
    assert bg.coverage is not None and bg.coverage < 0.95
    assert len(bg.runs) >= 2 and bg.runs[0].exit_code == 1 and not bg.runs[0].stopped_by_us
    assert any(f.code == "low_coverage" for f in rec.flags)
    _assert_no_processes_left(rec)


def test_failing_foreground_still_stops_the_background_and_leaks_nothing(parallel_plan, run_toy):
    rec = _only(run_toy(parallel_plan('exit_code = 3, spawn_child = 1', '')))
    assert rec.status == "failed"
    assert rec.background.stop is not None and rec.background.stop.latency_s < 1.0
    assert rec.background.runs[-1].stopped_by_us
    assert rec.leaks == []
    assert any(f.code == "orphan_processes" and "sleep(600)" in f.message for f in rec.flags)
    _assert_no_processes_left(rec)
    for proc in psutil.Process().children(recursive=True):
        assert "bg.py" not in " ".join(proc.cmdline())


def test_background_stops_at_the_foreground_exit_not_after_the_measurement(parallel_plan, run_toy, monkeypatch):
    from hyperwatt.engine import lifecycle

    measure = lifecycle.ExperimentRun._measure

    def slow_measure(self, attempt):
        time.sleep(1.0)  # a real counter's end edge is awaited here
        measure(self, attempt)

    monkeypatch.setattr(lifecycle.ExperimentRun, "_measure", slow_measure)
    rec = _only(run_toy(parallel_plan('sleep = 0.5', '')))
    stop, fg_end = rec.background.stop, rec.attempts[-1].ended_wall
    assert stop.after_foreground_s is not None and stop.latency_s <= stop.after_foreground_s < 0.5
    assert stop.delay_s == stop.after_foreground_s
    assert rec.background.runs[-1].ended_wall - fg_end < 0.5


def test_a_failed_attempt_is_retried_under_the_same_background(parallel_plan, run_toy):
    rec = _only(run_toy(parallel_plan("fail_first = 1, sleep = 0.3", "", retries=1)))
    assert rec.status == "succeeded", rec.status_reason
    assert [a.exit_code for a in rec.attempts] == [5, 0]
    bg = rec.background
    assert len(bg.runs) == 1 and bg.coverage == pytest.approx(1.0)
    assert bg.stop.after_foreground_s is not None and bg.stop.after_foreground_s < 1.0
    _assert_no_processes_left(rec)


def test_a_clean_exit_without_metrics_is_final_in_parallel_mode(parallel_plan, run_toy):
    rec = _only(run_toy(parallel_plan("no_metrics = 1", "", retries=2)))
    assert rec.status == "failed" and len(rec.attempts) == 1
    assert "required metrics missing: acc" in rec.status_reason and "not retried" in rec.status_reason
    assert rec.background.stop.after_foreground_s is not None


def test_a_timed_out_attempt_that_exits_0_on_sigterm_is_retried_under_the_background(write_plan, toy_dir, run_toy):
    """Lightning and HF catch SIGTERM and exit 0: the timeout still failed the attempt."""
    (toy_dir / "bg.py").write_text(BG_SCRIPT)
    (toy_dir / "polite.py").write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
        "time.sleep(30)\n")
    plan = write_plan(f'''
{BG_WORKLOAD}
[workloads."toy/polite"]
argv = ["{{python}}", "polite.py"]
workdir = "."
metrics = {{ file = false }}
[[experiments]]
workload = "toy/polite"
mode = "parallel"
background = {{ workload = "bg/toy" }}
timing = {{ retries = 1, timeout_s = 2 }}
''')
    rec = _only(run_toy(plan))
    assert rec.status == "failed" and [a.timed_out for a in rec.attempts] == [True, True]
    assert 0 in [a.exit_code for a in rec.attempts]  # (a loaded machine may start Python after the SIGTERM)
    assert "not retried" not in (rec.status_reason or "")
    assert len(rec.background.runs) == 1 and rec.background.stop.after_foreground_s < 2.0
    _assert_no_processes_left(rec)


def test_a_cpu_only_parallel_session_never_claims_a_gpu(parallel_plan, run_toy):
    """Words follow the machine: no GPU here, so neither verification.md nor report.html says one was loaded."""
    from hyperwatt.analysis.command import report_command

    result = run_toy(parallel_plan('sleep = 1.0', ''))
    rec = _only(result)
    assert rec.environment["gpus"] == [] and rec.background.effective
    text = result.layout.verification.read_text()
    assert "| backgrounds effective (really trained; no GPU on this machine) | 1/1 |" in text
    assert "loaded the GPU" not in text
    html = report_command(result.session_id, result.layout.results_dir, None, False).read_text()
    assert "Parallel mode on a machine without a GPU" in html and "NVML" not in html
    assert '"GPU energy" is the whole device' not in html and "GPU energy above idle" not in html
