"""The sequential runner end to end with a tiny external training script (no sensors)."""

from __future__ import annotations

import json
import time

import psutil
import pytest

from hyperwatt.records import SCHEMA_VERSION
from hyperwatt.store import open_store


def _record(result, slot=0):
    return next(r for r in result.records if r.slot == slot)


def test_success_records_argv_values_metrics_and_files(write_plan, run_toy, toy_dir):
    plan = write_plan("""
        [[experiments]]
        workload = "toy/net"
        hyperparameters = { epochs = 3, lr = 0.05, name = "a b;$(rm -rf /)|&" }
    """)
    result = run_toy(plan)
    rec = _record(result)
    assert rec.status == "succeeded" and rec.valid  # no energy sensor: a warning, not an error
    assert [f.code for f in rec.flags] == ["energy_unavailable"]
    assert rec.metrics["acc"] == 0.53 and abs(rec.metrics["test_accuracy"] - 0.935) < 1e-9
    # the exact strings passed are what is recorded, metacharacters literally
    assert rec.hyperparameter_args["lr"] == "0.05" and rec.hyperparameters["lr"] == 0.05
    assert rec.hyperparameters["epochs"] == 3 and rec.hyperparameters["sleep"] == 0.0
    assert "a b;$(rm -rf /)|&" in rec.argv
    exp_dir = result.layout.dir / rec.experiment_id
    log = (exp_dir / "attempt-1" / "training.log").read_text()
    assert "a b;$(rm -rf /)|&" in json.loads(log.splitlines()[0][5:])
    data = json.loads((exp_dir / "experiment.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["argv"] == rec.argv
    assert data["energy"]["available"] is False and data["energy"]["gpu_energy_j"] is None
    assert data["environment"]["python"] and len(data["plan_hash"]) == 16
    summary = (result.layout.summary).read_text().splitlines()
    assert summary[0].startswith("experiment_id,session_id,slot,workload,mode")
    assert len(summary) == 2 and rec.experiment_id in summary[1]
    assert (result.layout.plan).exists() and (result.layout.verification).exists()


def test_failure_then_retry_keeps_both_attempts(write_plan, run_toy):
    plan = write_plan("""
        [[experiments]]
        workload = "toy/net"
        hyperparameters = { fail_first = 1 }
        timing = { retries = 2 }
    """)
    result = run_toy(plan)
    rec = _record(result)
    assert rec.status == "succeeded"
    assert [a.exit_code for a in rec.attempts] == [5, 0]
    assert not rec.attempts[0].succeeded and rec.attempts[1].succeeded
    assert rec.attempts[0].log != rec.attempts[1].log
    exp_dir = result.layout.dir / rec.experiment_id
    assert "first attempt fails" in (exp_dir / rec.attempts[0].log).read_text()
    assert "epoch 2" in (exp_dir / rec.attempts[1].log).read_text()


def test_failure_exhausts_retries(write_plan, run_toy):
    plan = write_plan("""
        [[experiments]]
        workload = "toy/net"
        hyperparameters = { exit_code = 9 }
        timing = { retries = 1 }
    """)
    rec = _record(run_toy(plan))
    assert rec.status == "failed"
    assert [a.exit_code for a in rec.attempts] == [9, 9]
    assert "exit code 9" in rec.status_reason
    assert any(f.code == "foreground_failed" for f in rec.flags)


def test_timeout_kills_whole_tree(write_plan, run_toy):
    plan = write_plan("""
        [[experiments]]
        workload = "toy/net"
        hyperparameters = { sleep = 60.0, spawn_child = 1 }
        timing = { timeout_s = 1.5 }
    """)
    t0 = time.monotonic()
    result = run_toy(plan)
    rec = _record(result)
    assert time.monotonic() - t0 < 20
    assert rec.status == "failed" and rec.attempts[0].timed_out
    assert "timed out" in rec.attempts[0].error
    root = result.layout.dir / rec.experiment_id
    child_line = next(l for l in (root / "attempt-1" / "training.log").read_text().splitlines() if l.startswith("child"))
    child = int(child_line.split()[1])
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    assert rec.leaks == []


def test_missing_required_metric_fails(write_plan, run_toy):
    plan = write_plan("""
        [[experiments]]
        workload = "toy/net"
        hyperparameters = { no_metrics = 1 }
    """)
    rec = _record(run_toy(plan))
    assert rec.status == "failed"
    assert rec.attempts[0].missing_metrics == ["acc"]
    assert rec.attempts[0].exit_code == 0
    # the regex metric was still read from the log
    assert rec.attempts[0].metrics["test_accuracy"] == 0.925
    assert rec.attempts[0].metric_matches == {"test_accuracy": 1}


def test_second_run_of_same_plan_is_deduplicated_and_rerun_overrides(write_plan, run_toy, toy_dir):
    plan = write_plan("""
        [[experiments]]
        workload = "toy/net"
        include_default = true
        mutate = { parameters = ["epochs"], mutations = 2 }
    """)
    first = run_toy(plan)
    assert [r.status for r in first.records] == ["succeeded"] * 3
    second = run_toy(plan)
    assert second.records == [] and second.skipped == 3
    store = open_store(toy_dir / "results")
    assert all(s.skip_reason for s in store.slots(second.session_id))
    third = run_toy(plan, rerun=True)
    assert len(third.records) == 3
    assert {r.key_hash for r in third.records} == {r.key_hash for r in first.records}


def test_repeats_run_each_setting_that_many_times(write_plan, run_toy):
    plan = write_plan("""
        [[experiments]]
        workload = "toy/net"
        repeats = 2
        mutate = { parameters = ["lr"], mutations = 2 }
    """)
    result = run_toy(plan)
    keys = [r.key_hash for r in sorted(result.records, key=lambda r: r.slot)]
    assert len(keys) == 4 and len(set(keys)) == 2
    assert keys[:2] == keys[2:]  # repeats interleave
    assert sorted(r.repeat_index for r in result.records) == [0, 0, 1, 1]


def test_success_exit_codes_make_a_declared_exit_clean(write_plan, toy_dir, run_toy):
    """A script that writes its results, then exits 3 (a teardown error it cannot help)."""
    (toy_dir / "exits.py").write_text(
        "import json, os, sys\n"
        "open(os.environ['HYPERWATT_METRICS_FILE'], 'a').write(json.dumps({'acc': 0.5}) + '\\n')\n"
        "sys.exit(int(sys.argv[1]))\n")
    plan = write_plan('''
[workloads."toy/exits"]
argv = ["{python}", "exits.py"]
workdir = "."
success_exit_codes = [0, 3]
[workloads."toy/exits".hyperparameters]
code = { type = "int", default = 0, positional = true }
[workloads."toy/exits".metrics]
required = ["acc"]
[[experiments]]
workload = "toy/exits"
hyperparameters = { code = 3 }
[[experiments]]
workload = "toy/exits"
hyperparameters = { code = 4 }
''')
    three, four = sorted(run_toy(plan).records, key=lambda r: r.slot)
    assert three.status == "succeeded" and three.attempts[0].exit_code == 3
    assert four.status == "failed" and "exit code 4" in four.status_reason


def test_a_signal_or_out_of_range_exit_code_is_refused(write_plan):
    from hyperwatt.config import Registry, load_plan
    from hyperwatt.errors import ConfigError

    plan = write_plan('[workloads."toy/bad"]\nextends = "toy/net"\nsuccess_exit_codes = [0, -9]\n'
                      '[[experiments]]\nworkload = "toy/bad"\n')
    with pytest.raises(ConfigError, match=r"success_exit_codes.*exit code -9 is not in 0 … 255"):
        load_plan(plan, Registry.builtin())


def test_a_training_killed_by_a_signal_says_which(write_plan, run_toy):
    """A negative exit code is a death by signal: the reason names the signal, not just `-9`."""
    plan = write_plan("""
        [workloads."toy/killed"]
        argv = ["{python}", "-c", "import os, signal; print('dying', flush=True); os.kill(os.getpid(), signal.SIGKILL)"]
        [[experiments]]
        workload = "toy/killed"
    """)
    rec = _record(run_toy(plan))
    assert rec.status == "failed"
    assert rec.attempts[0].exit_code == -9
    assert rec.status_reason.startswith("killed by signal SIGKILL (exit code -9)"), rec.status_reason
