"""A search entry run by the engine: every trial a measured, recorded experiment; the study in the
results directory; a rerun continues the same study instead of training again."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")

from hyperwatt.config import Registry, load_plan  # noqa: E402
from hyperwatt.engine import SessionOptions, run_plan  # noqa: E402
from hyperwatt.search.study import storage_url  # noqa: E402
from hyperwatt.sensors import SensorSet  # noqa: E402
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor  # noqa: E402

SEARCH = '''
[[experiments]]
workload = "toy/net"
search = {{ parameters = ["epochs", "lr"], trials = {trials}, objectives = ["gpu_energy_j:min", "acc:max"], sampler = "random" }}
'''


def _run(plan_path, toy_dir):
    sensors = SensorSet(sensors=[FakeGpuSensor(FakeGpu(power=150.0), index=0)])
    opts = SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda plan: sensors)
    return run_plan(load_plan(plan_path, Registry.builtin()), opts)


def _study(toy_dir):
    url = storage_url(toy_dir / "results")
    (summary,) = optuna.get_all_study_summaries(url)
    return optuna.load_study(study_name=summary.study_name, storage=url)


def test_every_trial_is_a_recorded_experiment_and_the_study_is_optunas(write_plan, toy_dir):
    result = _run(write_plan(SEARCH.format(trials=4)), toy_dir)
    records = sorted(result.records, key=lambda r: r.slot)
    assert [r.label for r in records] == ["search #0 (default)", "search #1", "search #2", "search #3"]
    assert all(r.status == "succeeded" and r.energy.available for r in records)
    assert records[0].hyperparameters["epochs"] == 2 and records[0].hyperparameters["lr"] == 0.1  # the defaults
    study = _study(toy_dir)
    trials = study.trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 4
    by_id = {r.experiment_id: r for r in records}
    for t in trials:  # the sampler was told exactly what the record measured
        rec = by_id[t.user_attrs["experiment_id"]]
        assert t.values == [rec.energy.gpu_energy_j, rec.metrics["acc"]]
        assert t.params["epochs"] == rec.hyperparameters["epochs"]
    slots = {r.slot for r in records}
    assert len(slots) == 4 and result.exit_code == 0


def test_a_rerun_continues_the_study_and_trains_only_the_new_trials(write_plan, toy_dir):
    _run(write_plan(SEARCH.format(trials=2)), toy_dir)
    again = _run(write_plan(SEARCH.format(trials=2)), toy_dir)
    assert again.records == []  # the study already holds its 2 trials: nothing trains
    more = _run(write_plan(SEARCH.format(trials=4)), toy_dir)
    assert len(more.records) == 2
    assert len(_study(toy_dir).trials) == 4


def test_the_report_shows_the_study(write_plan, toy_dir):
    from hyperwatt.analysis.command import report_command

    result = _run(write_plan(SEARCH.format(trials=3)), toy_dir)
    path = report_command(result.session_id, toy_dir / "results", None, False)
    html = path.read_text()
    assert 'id="searches"' in html and "gpu_energy_j (min), acc (max)" in html
    assert "3 trial(s): 3 measured by a training" in html
    assert "Default setting (trial #0)" in html and "data:image/png;base64," in html
    assert "built-in method" not in html  # every cell a value, never a Python object's repr
    study = _study(toy_dir)
    for t in study.best_trials:
        assert t.user_attrs["experiment_id"] in html
        assert f"gpu_energy_j {t.values[0]:.4g}, acc {t.values[1]:.4g}" in html
    spent = sum(t.user_attrs["energy_j"] for t in study.trials)
    assert spent > 0 and f"{spent / 1000:.4g} kJ" in html
