"""The command line as a user meets it: exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST_TIMING, TOY_TRAIN, TOY_WORKLOAD


def hw(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "hyperwatt", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TOY_TRAIN)
    (tmp_path / "toy.toml").write_text(TOY_WORKLOAD)
    (tmp_path / "plan.toml").write_text(
        f'name = "toy"\n{FAST_TIMING}\n[[experiments]]\nworkload = "toy/net"\ninclude_default = true\n'
        'mutate = { parameters = ["lr"], mutations = 2 }\n')
    return tmp_path


@pytest.mark.parametrize("args, fragment", [
    (["run", "missing.toml"], "missing.toml: file not found"),
    (["plan", "bad.toml"], "bad.toml: experiments[0].mutate.mutations: Input should be greater than or equal to 1"),
    (["run", "bad.toml"], "bad.toml: experiments[0].mutate.mutations"),
    (["plan", "plan.toml"], "unknown workload 'toy/net'"),  # the toy workload needs -W
    (["mutate", "-w", "toy/net", "-p", "lrr", "-W", "toy.toml"], "has no hyperparameter 'lrr' (did you mean 'lr'?)"),
    (["mutate", "-w", "toy/net", "-p", "lr", "-W", "toy.toml", "--set", "epochs"], "--set: 'epochs' is not NAME=VALUE"),
    (["list", "-W", "nope.json"], "nope.json: file not found"),
    (["status", "-o", "nowhere"], "nowhere: no such folder; pass -o/--results-dir"),
    (["export", "-o", "nowhere"], "nowhere: no such folder"),
    (["verify", "s1", "-o", "nowhere"], "nowhere: no such folder"),
    (["report", "-o", "nowhere"], "nowhere: no such folder"),
    (["resume", "s1", "-o", "nowhere"], "nowhere: no such folder"),
    (["status", "-o", "plan.toml"], "plan.toml: not a folder"),
    (["status", "-o", "."], "no results store (hyperwatt.db) in this folder"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(project, args, fragment):
    (project / "bad.toml").write_text('[[experiments]]\nworkload = "examples/mnist"\nmutate = { parameters = ["seed"], mutations = 0 }\n')
    before = sorted(p.name for p in project.iterdir())
    proc = hw(*args, cwd=project)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert sorted(p.name for p in project.iterdir()) == before


def test_unknown_command_is_a_usage_error(project):
    proc = hw("frobnicate", cwd=project)
    assert proc.returncode == 2 and "No such command" in proc.stderr


def test_list_and_dry_run(project):
    listing = hw("list", "-W", "toy.toml", cwd=project)
    assert listing.returncode == 0 and "toy/net" in listing.stdout and "lr=0.1 [0.01, 1]" in listing.stdout
    builtin = hw("list", cwd=project)
    assert "size=small {tiny, small, full}" in builtin.stdout  # the allowed values, before any run
    plan = hw("plan", "plan.toml", "-W", "toy.toml", cwd=project)
    assert plan.returncode == 0, plan.stderr
    assert "3 experiments, 3 to run, 0 skipped" in plan.stdout
    assert not (project / "results").exists()


def test_dry_run_shows_how_each_hyperparameter_is_passed(tmp_path):
    (tmp_path / "w.toml").write_text('''
[workloads."lab/pkg"]
argv = ["{python}", "-m", "trainer.main"]
[workloads."lab/pkg".hyperparameters]
epochs = { positional = true, type = "int", default = 2 }
batch_size = { env = "BATCH_SIZE", type = "int", default = 32 }
lr = { flag = "--learning_rate=", type = "float", default = 0.5 }
''')
    (tmp_path / "plan.toml").write_text('[[experiments]]\nworkload = "lab/pkg"\nhyperparameters = { batch_size = 8 }\n')
    plan = hw("plan", "plan.toml", "-W", "w.toml", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "BATCH_SIZE=8 2 --learning_rate=0.5" in plan.stdout


def test_status_never_cuts_the_session_id_users_copy(write_plan, run_toy, toy_dir):
    result = run_toy(write_plan('[[experiments]]\nworkload = "toy/net"\n'))
    proc = subprocess.run([sys.executable, "-m", "hyperwatt", "status", "-o", "results"], cwd=toy_dir,
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert result.session_id in proc.stdout  # was "20261127…" in 80 columns
    row = next(line for line in proc.stdout.splitlines() if result.session_id in line)
    assert row.split("\t")[1:] == ["toy", "completed", "1", "1", "1", "0", "0"]  # piped: tab-separated, uncut
