"""Hostile inputs met through the command line and the engine: one line and a non-zero exit, or the
right behaviour, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.mutation import expand, occurrence_indices
from tests.conftest import FAST_TIMING, TOY_TRAIN, TOY_WORKLOAD


def hw(*args: str, cwd: Path, user: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "hyperwatt", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300, user=user, group=user, extra_groups=[] if user else None)


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode not in (0, 70) and len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    return lines[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TOY_TRAIN)
    (tmp_path / "toy.toml").write_text(TOY_WORKLOAD)
    (tmp_path / "plan.toml").write_text(f'name = "toy"\n{FAST_TIMING}\n[[experiments]]\nworkload = "toy/net"\n')
    return tmp_path


# ----------------------------------------------------------------------------- enormous plans
def test_enormous_grid_is_refused_before_expansion(project):
    (project / "big.toml").write_text('[[experiments]]\nworkload = "examples/mnist"\nrepeats = 10000\n'
                                      'mutate = { parameters = ["learning_rate"], strategy = "joint", '
                                      'mutations = 100000 }\n')
    line = one_line(hw("plan", "big.toml", cwd=project))
    assert "big.toml: experiments[0]: the plan would expand to 1,000,000,000 experiments" in line
    line = one_line(hw("mutate", "-w", "examples/mnist", "-p", "epochs,seed", "--strategy", "one_at_a_time",
                       "-n", "60000", cwd=project))
    assert "120,000" in line and "at most 100,000" in line


def test_large_plan_table_is_cut_but_counted(project):
    (project / "many.toml").write_text('[[experiments]]\nworkload = "examples/mnist"\nrepeats = 1200\n')
    proc = hw("plan", "many.toml", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "200 more experiment(s) not shown" in proc.stdout and "1200 experiments, 1200 to run" in proc.stdout


# ---------------------------------------------------------------------------- duplicate entries
def test_identical_entries_ask_for_the_setting_twice_like_repeats(project):
    (project / "dup.toml").write_text(f'name = "dup"\n{FAST_TIMING}\n' + '[[experiments]]\nworkload = "toy/net"\n' * 2)
    assert hw("run", "plan.toml", "-W", "toy.toml", "-q", cwd=project).returncode == 0  # one run in the store
    plan = hw("plan", "dup.toml", "-W", "toy.toml", cwd=project)
    assert "2 experiments, 1 to run, 1 skipped" in plan.stdout  # was: 0 to run, 2 skipped


def test_occurrence_indices_count_per_key(tmp_path):
    (tmp_path / "p.toml").write_text('[[experiments]]\nworkload = "examples/mnist"\nrepeats = 2\n'
                                     '[[experiments]]\nworkload = "examples/mnist"\n'
                                     '[[experiments]]\nworkload = "examples/mnist_ff"\n')
    assert occurrence_indices(expand(load_plan(tmp_path / "p.toml", Registry.builtin())).experiments) == [0, 1, 2, 0]


# ------------------------------------------------------------------------------ results stores
@pytest.mark.parametrize("command", [["status"], ["status", "s1"], ["report"], ["verify", "s1"], ["resume", "s1"],
                                     ["export"], ["plan", "plan.toml", "-W", "toy.toml"],
                                     ["run", "plan.toml", "-W", "toy.toml"]])
def test_corrupt_store_is_one_line_for_every_command(project, command):
    (project / "results").mkdir()
    (project / "results" / "hyperwatt.db").write_text("garbage, not SQLite\n")
    line = one_line(hw(*command, "-o", "results", cwd=project))  # was: internal error (DatabaseError)
    assert "results/hyperwatt.db: the results store is damaged or not an SQLite file" in line


def test_export_of_an_unknown_session_is_an_error(project):
    assert hw("run", "plan.toml", "-W", "toy.toml", "-q", cwd=project).returncode == 0
    line = one_line(hw("export", "--session", "nosuch", cwd=project))  # wrote an empty export.csv
    assert "--session: no session 'nosuch'; recent: " in line
    assert not (project / "results" / "export.csv").exists()


# ------------------------------------------------------------------------------------ preflight
def test_preflight_names_a_shell_string_and_a_file_as_workdir(tmp_path):
    from hyperwatt.config import Workload
    from hyperwatt.engine.preflight import check_workloads
    from hyperwatt.errors import PreflightError

    (tmp_path / "f.txt").write_text("x")
    shell = Workload(name="a/b", argv=["python train.py | tee log"], workdir=tmp_path, source="w.toml")
    with pytest.raises(PreflightError, match="hyperwatt runs no shell: argv is a list of words"):
        check_workloads([shell], sys.executable)
    afile = Workload(name="a/b", argv=["{python}"], workdir=tmp_path / "f.txt", source="w.toml")
    with pytest.raises(PreflightError, match="f.txt is a file, not a folder"):  # said 'does not exist'
        check_workloads([afile], sys.executable)
    (tmp_path / "sub").mkdir()
    folder = Workload(name="a/b", argv=["./sub"], workdir=tmp_path, source="w.toml")
    with pytest.raises(PreflightError, match="sub is a folder, not a program"):  # said 'does not exist'
        check_workloads([folder], sys.executable)


def test_mutate_all_leaves_out_what_set_fixes():
    from hyperwatt.config.oneliner import oneliner_plan

    loaded = oneliner_plan(Registry.builtin(), "examples/mnist", "all", 1, "joint", ["epochs=3"], None, 1, False, 0)
    spec = loaded.plan.experiments[0]  # was: 'epochs' is both fixed and mutated
    assert spec.mutate.parameters == ["learning_rate", "batch_size", "seed"] and spec.hyperparameters == {"epochs": "3"}


@pytest.mark.parametrize("args, says", [
    (["run"], "run: Missing argument 'PLAN'; see `hyperwatt run --help`"),
    (["export", "--output", "x.csv"], "export: No such option: --output (Possible options: --out)"),
    (["mutate", "-w", "examples/mnist", "-n", "x"], "mutate: Invalid value for '--mutations' / '-n'"),
    (["bogus"], "No such command 'bogus'"),
])
def test_a_usage_error_is_one_line_naming_the_command_and_option(project, args, says):
    """A mistyped option or a missing argument is one line, like every other user error (click's
    own Usage/Try/Error block was three), and still exits 2."""
    proc = hw(*args, cwd=project)
    line = one_line(proc)
    assert proc.returncode == 2
    assert line.startswith("hyperwatt: error: ") and says in line, line
