"""Whatever a training writes as metrics, every record stays readable; an unreadable record is skipped,
never fatal; a session with experiments that never ran is not `completed`; exit codes say what happened."""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from pathlib import Path

import pytest

from hyperwatt import cli
from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, resume, run_plan
from hyperwatt.engine.lifecycle import ExperimentRun
from hyperwatt.errors import HyperwattError
from hyperwatt.store import open_store
from tests.conftest import FAST_TIMING

HOSTILE_TRAIN = r'''
import os, sys
kind = sys.argv[sys.argv.index("--kind") + 1]
line = {"nan": '{"acc": 0.5, "loss": NaN, "gain": -Infinity}',
        "inf": '{"acc": 0.5, "loss": Infinity, "e": 1e999}',
        "huge": '{"acc": 0.5, "big": 1' + "0" * 400 + ', "bigger": -9' + "9" * 5000 + '}',
        "plain": '{"acc": 0.75, "loss": 0.25}'}[kind]
with open(os.environ["HYPERWATT_METRICS_FILE"], "a") as f:
    f.write(line + "\n")
code = int(sys.argv[sys.argv.index("--code") + 1])
sys.exit(code)
'''

WORKLOAD = '''
[workloads."toy/hostile"]
argv = ["{python}", "hostile.py"]
workdir = "."
[workloads."toy/hostile".hyperparameters]
kind = { flag = "--kind", type = "str", default = "plain" }
code = { flag = "--code", type = "int", default = 0 }
[workloads."toy/hostile".metrics]
required = ["acc"]
'''


def _project(root: Path, experiments: str) -> Path:
    (root / "hostile.py").write_text(HOSTILE_TRAIN)
    (root / "hostile.toml").write_text(WORKLOAD)
    plan = root / "plan.toml"
    plan.write_text(f'name = "hostile"\nseed = 3\n{FAST_TIMING}\n{WORKLOAD}\n{experiments}')
    return plan


def _experiments(*kinds: str, code: int = 0) -> str:
    return "".join(f'[[experiments]]\nworkload = "toy/hostile"\nhyperparameters = {{ kind = "{k}", code = {code} }}\n'
                   for k in kinds)


def _options(root: Path) -> SessionOptions:
    return SessionOptions(results_dir=root / "results", sensors_factory=lambda p: None)


def _strict_json(path: Path) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"{path}: non-standard JSON constant {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_non_finite_and_huge_metrics_are_kept_reported_and_read_back(tmp_path):
    plan = _project(tmp_path, _experiments("nan", "inf", "huge", "plain"))
    result = run_plan(load_plan(plan, Registry.builtin()), _options(tmp_path))
    assert [r.status for r in result.records] == ["succeeded"] * 4  # the experiment after them ran too
    nan, inf, huge, plain = result.records
    assert math.isnan(nan.metrics["loss"]) and nan.metrics["gain"] == -math.inf and nan.metrics["acc"] == 0.5
    assert inf.metrics["loss"] == math.inf and inf.metrics["e"] == math.inf
    assert huge.metrics["big"] == math.inf and huge.metrics["bigger"] == -math.inf
    assert plain.metrics == {"acc": 0.75, "loss": 0.25} and not plain.attempts[0].metric_problems
    assert any("loss is NaN (kept as NaN)" in p for p in nan.attempts[0].metric_problems)
    assert any("big is a number beyond a float's range (kept as Infinity)" in p
               for p in huge.attempts[0].metric_problems)
    for rec in (nan, inf, huge):
        assert [f.code for f in rec.flags if f.code == "metric_not_finite"] == ["metric_not_finite"]
        assert rec.valid  # a diverged loss is a result, not an invalid measurement
    assert "loss=NaN" in next(f.message for f in nan.flags if f.code == "metric_not_finite")
    # experiment.json is plain JSON: the documented strings, not NaN/Infinity constants
    data = _strict_json(result.layout.dir / nan.experiment_id / "experiment.json")
    assert data["metrics"]["loss"] == "NaN" and data["metrics"]["gain"] == "-Infinity"  # type: ignore[index]
    # and the store gives them back, with the session completed
    store = open_store(tmp_path / "results", readonly=True)
    back = {r.experiment_id: r for r in store.experiments()}
    assert math.isnan(back[nan.experiment_id].metrics["loss"])
    assert back[huge.experiment_id].metrics["bigger"] == -math.inf and not store.unreadable
    assert store.session(result.session_id).status == "completed"  # type: ignore[union-attr]


def test_a_metric_stored_as_null_by_an_older_version_reads_as_nan(tmp_path):
    plan = _project(tmp_path, _experiments("plain"))
    result = run_plan(load_plan(plan, Registry.builtin()), _options(tmp_path))
    with sqlite3.connect(tmp_path / "results" / "hyperwatt.db") as db:
        (text,) = db.execute("SELECT record_json FROM experiments").fetchone()
        db.execute("UPDATE experiments SET record_json = ?", (text.replace('"loss":0.25', '"loss":null'),))
    (rec,) = open_store(tmp_path / "results", readonly=True).experiments(result.session_id)
    assert math.isnan(rec.metrics["loss"])


def test_an_experiment_that_never_ran_keeps_the_session_resumable(tmp_path, monkeypatch):
    plan = _project(tmp_path, _experiments("plain", "nan", "plain"))
    real = ExperimentRun.run
    calls = []

    def broken(self):
        calls.append(self.pe.slot)
        if len(calls) == 2:
            raise HyperwattError("disk gone")
        return real(self)

    monkeypatch.setattr(ExperimentRun, "run", broken)
    with pytest.raises(HyperwattError, match="disk gone"):
        run_plan(load_plan(plan, Registry.builtin()), _options(tmp_path))
    store = open_store(tmp_path / "results", readonly=True)
    (session,) = store.sessions()
    assert session.status == "incomplete"  # not "completed": slots 1 and 2 never ran
    monkeypatch.setattr(ExperimentRun, "run", real)
    done = resume(session.session_id, _options(tmp_path))
    assert sorted(r.slot for r in done.records) == [0, 1, 2] and done.exit_status(strict=True) == 0
    assert open_store(tmp_path / "results", readonly=True).session(session.session_id).status == "completed"  # type: ignore[union-attr]


def _hw(root: Path, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`hyperwatt ARGS` in this process (no interpreter start): exit code, stdout, stderr."""
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", ["hyperwatt", *args])
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        cli.main()
    out = capsys.readouterr()
    return int(done.value.code or 0), out.out, out.err


def test_exit_codes_failed_trainings_never_exit_0(tmp_path, monkeypatch, capsys):
    _project(tmp_path, _experiments("plain", code=3))
    code, out, err = _hw(tmp_path, monkeypatch, capsys, "run", "plan.toml", "-q", "-o", "all_failed")
    assert code == 1, out + err
    (tmp_path / "ok.toml").write_text((tmp_path / "plan.toml").read_text().replace("code = 3", "code = 0"))
    code, out, err = _hw(tmp_path, monkeypatch, capsys, "run", "ok.toml", "-q", "--strict", "-o", "fine")
    assert code == 0, out + err
    code, _, err = _hw(tmp_path, monkeypatch, capsys, "run", "nope.toml")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_an_unreadable_record_is_reported_and_skipped_by_every_command(tmp_path, monkeypatch, capsys):
    plan = _project(tmp_path, _experiments("plain", "nan"))
    result = run_plan(load_plan(plan, Registry.builtin()), _options(tmp_path))
    broken = result.records[0].experiment_id
    with sqlite3.connect(tmp_path / "results" / "hyperwatt.db") as db:
        db.execute("UPDATE experiments SET record_json = '{\"experiment_id\": 5' WHERE experiment_id = ?", (broken,))
    for args in (["status"], ["status", result.session_id], ["export", "-f", "json"], ["report"],
                 ["verify", result.session_id]):
        code, out, err = _hw(tmp_path, monkeypatch, capsys, *args, "-o", "results")
        assert code == 0, (args, out, err)
        assert f"experiment {broken}: its stored record does not read" in err, args
        assert "Traceback" not in err
    exported = json.loads((tmp_path / "results" / "export.json").read_text())
    assert [r["experiment_id"] for r in exported] == [result.records[1].experiment_id]
