"""The search driver: default first, invalid trials never told as valid, budget, constraints, reuse, resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from hyperwatt.search import SearchDriver, parse_constraints, parse_objectives  # noqa: E402
from hyperwatt.search.simulated import WORKLOAD, SimulatedEvaluator, accuracy, energy_j  # noqa: E402
from hyperwatt.search.space import distributions, grid, to_values  # noqa: E402
from hyperwatt.search.study import make_sampler, open_study, storage_url  # noqa: E402

PARAMS = ["learning_rate", "batch_size", "epochs"]
DEFAULTS = {"learning_rate": 0.01, "batch_size": 64, "epochs": 10}
S = optuna.trial.TrialState


def key_of(values):
    return repr(sorted((k, v.text) for k, v in values.items()))


def driver(study, trials=10, constraints=(), budget_j=None, history=None, objectives=("gpu_energy_j:min", "accuracy:max")):
    return SearchDriver(study, distributions(WORKLOAD, PARAMS), parse_objectives(list(objectives)),
                        parse_constraints(list(constraints)), trials, lambda p: to_values(WORKLOAD, p), key_of,
                        DEFAULTS, budget_j=budget_j, history=history)


def new_study(kind="tpe", storage=None, name="s", n_obj=2, constrained=False, trials=10):
    return open_study(storage, name, ["minimize", "maximize"][:n_obj],
                      make_sampler(kind, n_obj, trials, 3, grid(WORKLOAD, PARAMS, 3), constrained))


def test_default_is_trial_zero_and_every_trial_is_evaluated_once():
    study = new_study()
    ev = SimulatedEvaluator()
    out = driver(study, trials=12).run(ev)
    assert len(out.results) == 12 and out.ran == 12 and out.stopped_by == "trials"
    first = ev.submitted[0]
    assert first.number == 0 and first.is_default
    assert {k: v.typed for k, v in first.values.items()} == DEFAULTS
    assert len({r.request.number for r in out.results}) == 12
    assert all(t.state == S.COMPLETE for t in study.trials)
    # what the sampler was told is what the record measured
    t0 = study.trials[0]
    assert t0.values[0] == pytest.approx(energy_j(0.01, 64, 10), rel=0.05)
    assert t0.values[1] == pytest.approx(accuracy(0.01, 64, 10), abs=0.01)


def test_invalid_trials_are_failed_with_their_reason_never_told_as_values():
    study = new_study()
    out = driver(study, trials=8).run(SimulatedEvaluator(fail_numbers={2, 5}))
    failed = [t for t in study.trials if t.state == S.FAIL]
    assert sorted(t.number for t in failed) == [2, 5]
    assert all(t.values is None and "invalid" in t.user_attrs["reason"] for t in failed)
    assert all("background_ineffective" in t.user_attrs["reason"] for t in failed)
    assert [r.state for r in out.results].count("fail") == 2
    assert len(study.best_trials) >= 1 and all(t.number not in (2, 5) for t in study.best_trials)


def test_budget_stops_the_search_and_counts_the_energy_it_spent():
    study = new_study()
    one = energy_j(0.01, 64, 10) * 1.1  # a default trial's total energy
    out = driver(study, trials=30, budget_j=3.5 * one).run(SimulatedEvaluator())
    assert out.stopped_by == "budget"
    assert out.energy_spent_j >= 3.5 * one
    assert out.ran < 30
    assert out.energy_spent_j == pytest.approx(sum(r.energy_j for r in out.results))


def test_relative_constraint_runs_the_default_first_and_marks_infeasible_trials():
    study = new_study(constrained=True)
    ev = SimulatedEvaluator(slots=3)
    driver(study, trials=9, constraints=["accuracy >= 0.98 * default"]).run(ev)
    default_acc = study.trials[0].values[1]
    for t in study.trials:
        (violation,) = t.user_attrs["constraints"]
        assert violation == pytest.approx(0.98 * default_acc - t.values[1])
        assert list(t.constraints.values()) == [pytest.approx(violation)] if hasattr(t, "constraints") else True
    assert any(t.user_attrs["constraints"][0] > 0 for t in study.trials)  # some broke it


def test_absolute_constraint_and_slots_keep_several_trials_in_flight():
    class Tracking(SimulatedEvaluator):
        peak = 0

        def submit(self, request):
            super().submit(request)
            Tracking.peak = max(Tracking.peak, len(self._queue))

    study = new_study(constrained=True)
    driver(study, trials=9, constraints=["accuracy >= 0.5"]).run(Tracking(slots=3))
    assert Tracking.peak == 3
    for t in study.trials:
        assert t.user_attrs["constraints"] == [pytest.approx(0.5 - t.values[1])]


def test_settings_already_measured_are_given_to_the_study_not_rerun():
    first = new_study(name="a")
    done = driver(first, trials=4).run(SimulatedEvaluator())
    history = {}
    ev = SimulatedEvaluator()
    for r in done.results:  # the same settings, measured earlier (the store, or imported)
        ev.submit(r.request)
        history[key_of(r.request.values)] = ev.next_done()[1]
    study = new_study(name="b")
    ev2 = SimulatedEvaluator()
    out = driver(study, trials=6, history=history).run(ev2)
    reused = [t for t in study.trials if t.user_attrs.get("reused")]
    assert len(reused) >= 4  # the 4 earlier settings joined the study (the default among them)
    assert all(not r.is_default for r in ev2.submitted)  # the default was measured before: not rerun
    assert out.ran == 6 - sum(r.reused for r in out.results)


def test_resume_continues_the_same_study(tmp_path: Path):
    url = storage_url(tmp_path)
    out1 = driver(new_study(storage=url), trials=5).run(SimulatedEvaluator())
    assert out1.ran == 5
    study = new_study(storage=url)
    # a runner killed during a trial leaves it RUNNING: it is failed and asked again
    stuck = study.ask(distributions(WORKLOAD, PARAMS))
    out2 = driver(new_study(storage=url), trials=8).run(SimulatedEvaluator())
    assert out2.ran == 3
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert trials[stuck.number].state == S.FAIL
    redone = [t for t in trials if t.number > stuck.number and t.params == stuck.params]
    assert redone and redone[0].state == S.COMPLETE
    assert sum(t.state == S.COMPLETE for t in trials) == 8


def test_single_objective_and_grid_sampler():
    study = open_study(None, "g", ["minimize"], make_sampler("grid", 1, 27, 0, grid(WORKLOAD, PARAMS, 3), False))
    out = driver(study, trials=27, objectives=("total_energy_j:min",)).run(SimulatedEvaluator())
    seen = {tuple(sorted(r.request.params.items())) for r in out.results}
    assert len(seen) == 27  # the whole 3 x 3 x 3 grid, each point once (the default joins as trial 0)
    assert study.best_value == pytest.approx(min(r.objectives[0] for r in out.results if r.objectives))


def test_log_uniform_stays_log_and_integers_stay_integers():
    dists = distributions(WORKLOAD, PARAMS)
    assert dists["learning_rate"].log and dists["batch_size"].log and not dists["epochs"].log
    values = to_values(WORKLOAD, {"learning_rate": 0.0123456789, "batch_size": 77, "epochs": 3})
    assert values["learning_rate"].text == "0.0123457" and values["batch_size"].text == "77"
    assert isinstance(values["epochs"].typed, int)
    assert not math.isnan(float(values["learning_rate"].text))
