"""The three findings on synthetic studies with planted answers, and their edge cases."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats as st

from hyperwatt.analysis.correlation import benjamini_hochberg
from hyperwatt.analysis.findings import SCHEMA, FindingsOptions, findings
from hyperwatt.analysis.goals import registry_goals
from hyperwatt.analysis.rows import finding_groups, registry_defaults

from .factories import record
from .synthetic import imported, joint, study

DEFAULTS = registry_defaults()
GOALS = registry_goals()


def run(records, **options):
    return findings(records, DEFAULTS, GOALS, FindingsOptions(**options))


def by_hp(group):
    return {f.hyperparameter: f for f in group.correlations}


def epochs_law(mode, hp):
    return 100.0 * hp["epochs"]


# question 1 ----------------------------------------------------------------------------------------
def test_planted_correlation_found_with_its_direction_and_nothing_else() -> None:
    recs = study(lambda m, hp: 100.0 * hp["epochs"] / (hp["batch_size"] / 32) ** 0.0,
                 {"epochs": [10, 5, 20, 30, 40], "batch_size": [32, 16, 64, 128, 256]}, modes=("sequential",))
    f = run(recs)
    (g,) = f.groups
    tests = by_hp(g)
    epochs = tests["epochs"]
    assert epochs.direction == "increases"
    assert epochs.all_rows.rho > 0.5 and epochs.all_rows.q < 0.05
    # isolated: only the default and the epochs mutations, batch_size at its default
    assert epochs.isolated.n == 3 + 2 * 4 and epochs.isolated.rho == pytest.approx(1.0, abs=0.05)
    assert tests["batch_size"].direction == "none"
    assert "more energy in 1 of 1" in f.verdicts()["correlation"]


def test_negative_direction_and_q_is_bh_over_every_test() -> None:
    recs = study(lambda m, hp: 5000.0 / hp["batch_size"], {"batch_size": [32, 8, 16, 64, 128]}, modes=("sequential",))
    recs += study(epochs_law, {"epochs": [10, 2, 4, 6, 8]}, modes=("sequential",), workload="examples/mnist_ff")
    f = run(recs)
    tests = [t for g in f.groups for h in g.correlations for t in h.tests if t.tested]
    ps = [t.p for t in tests]
    assert [t.q for t in tests] == pytest.approx(benjamini_hochberg(ps))
    assert all(t.q >= t.p - 1e-15 for t in tests)
    bs = by_hp(f.groups[0])["batch_size"]
    assert bs.direction == "decreases" and bs.all_rows.sign == -1


def test_bh_matches_the_textbook_procedure() -> None:
    ps = [0.01, 0.04, 0.03, 0.2]
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    expected = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, ps[i] * m / rank)
        expected[i] = running
    assert benjamini_hochberg(ps) == pytest.approx(expected)


def test_missing_value_is_the_workload_default_and_constant_parameters_are_not_tested() -> None:
    # examples/mnist's declared default epochs is 10: rows without it are at 10
    recs = [record(hp={"epochs": e, "seed": 1}, mutated=("epochs",), gpu_j=100.0 * e) for e in (2, 4, 6)]
    recs += [record(hp={"seed": 1}, gpu_j=1000.0 + i) for i in range(3)]
    (g,) = finding_groups(recs, DEFAULTS)
    assert {r.value("epochs") for r in g.rows} == {2, 4, 6, 10}
    assert sum("epochs" in r.defaulted for r in g.rows) == 3
    assert g.varying == ["epochs"]  # seed is constant: not tested
    f = run(recs)
    (h,) = f.groups[0].correlations
    assert h.hyperparameter == "epochs" and h.all_rows.n == 6 and h.direction == "increases"


def test_a_significant_seed_is_flagged_as_a_confounded_design() -> None:
    recs = study(lambda m, hp: 100.0 * hp["seed"], {"seed": [1, 2, 3, 4, 5]}, modes=("sequential",))
    (h,) = run(recs).groups[0].correlations
    assert h.direction == "increases"
    assert any("random seed" in flag for flag in h.flags) and "confounded" in h.verdict


def test_collinear_joint_design_is_flagged() -> None:
    # epochs and batch_size always move together: their effects cannot be told apart over all rows
    recs = [record(hp={"epochs": e, "batch_size": 8 * e}, mutated=("epochs", "batch_size"), gpu_j=100.0 * e)
            for e in (2, 4, 6, 8, 12, 14) for _ in range(2)]
    f = run(recs)
    flags = [fl for h in f.groups[0].correlations for fl in h.flags]
    assert any("confounded with batch_size" in fl for fl in flags)


# question 2 ----------------------------------------------------------------------------------------
def greener_study(repeats=3):
    def law(mode, hp):
        return {32: 1000.0, 64: 800.0, 128: 600.0, 16: 1200.0}[hp["batch_size"]]

    def acc(hp):
        return {32: 0.90, 64: 0.899, 128: 0.85, 16: 0.91}[hp["batch_size"]]

    return study(law, {"batch_size": [32, 64, 128, 16]}, modes=("sequential",), repeats=repeats, metric=acc,
                 noise=0.01)


def test_planted_greener_setting_is_the_one_candidate() -> None:
    (g,) = run(greener_study()).groups
    gr = g.greener
    assert gr.metric == "test_accuracy" and gr.goal == "max"
    assert gr.baseline is not None and gr.baseline.energy.n == 3 and gr.baseline.energy.low is not None
    assert [c.name for c in gr.candidates] == ["batch_size=64"]  # 128 saves more but loses 5.6 %
    (c,) = gr.candidates
    assert c.saving == pytest.approx(0.2, abs=0.02) and c.saving_low > 0.1 and not c.weak
    assert c.metric_change == pytest.approx(-0.001 / 0.9)
    front = {s.name for s in gr.settings if s.on_front}
    assert {"batch_size=64", "batch_size=128", "batch_size=16"} <= front
    assert "batch_size=64 saves" in gr.verdict


def test_saving_and_tolerance_are_configurable() -> None:
    (g,) = run(greener_study(), saving=0.3, tolerance=0.06).groups
    assert [c.name for c in g.greener.candidates] == ["batch_size=128"]
    (g,) = run(greener_study(), saving=0.1, tolerance=0.0).groups
    assert g.greener.candidates == []


def test_a_setting_seen_once_is_weak_evidence() -> None:
    (g,) = run(greener_study(repeats=1)).groups
    (c,) = g.greener.candidates
    assert "setting seen once" in c.weak and c.saving_low is None


def test_minimised_metric_direction() -> None:
    recs = greener_study()
    for r in recs:
        r.metrics = {"test_loss": 1.0 - r.metrics["test_accuracy"]}
    (g,) = run(recs).groups
    assert g.greener.metric == "test_loss" and g.greener.goal == "min"
    # loss 0.101 vs 0.100 is 1 % worse: within the tolerance; 128's loss 0.15 is not
    assert [c.name for c in g.greener.candidates] == ["batch_size=64"]


def test_mixed_scale_metric_is_weak() -> None:
    recs = greener_study()
    for r in recs:
        if r.hyperparameters["batch_size"] == 16:
            r.metrics["test_accuracy"] *= 100  # a percentage among ratios
    (g,) = run(recs).groups
    assert any("mixes" in n for n in g.greener.notes)
    assert all("metric on a mixed scale" in c.weak for c in g.greener.candidates)


def test_missing_metric_cannot_judge_a_loss() -> None:
    recs = greener_study()
    for r in recs:
        r.metrics = {}
    (g,) = run(recs).groups
    assert g.greener.metric is None and g.greener.candidates == []
    assert "cannot be judged" in g.greener.verdict


def test_without_a_default_setting_nothing_is_judged() -> None:
    recs = [r for r in greener_study() if r.mutated]
    (g,) = run(recs).groups
    assert g.greener.baseline is None and "no default" in g.greener.verdict


# question 3 ----------------------------------------------------------------------------------------
def interaction_law(mode, hp):
    k = 1.5 if mode == "parallel" else 1.0
    return 50.0 * hp["epochs"] ** k


def test_planted_mode_interaction() -> None:
    recs = study(interaction_law, {"epochs": [10, 2, 5, 20, 40], "learning_rate": [0.01, 0.001, 0.1]})
    f = run(recs)
    pairs = {p.hyperparameter: p for p in f.sensitivity.pairs}
    ep = pairs["epochs"]
    assert ep.sequential.slope == pytest.approx(1.0, abs=0.05)
    assert ep.parallel.slope == pytest.approx(1.5, abs=0.05)
    assert ep.sequential.low < 1.0 < ep.sequential.high and ep.parallel.model == "partial"
    assert ep.more_sensitive == "parallel" and ep.significant
    assert not pairs["learning_rate"].significant
    s = f.sensitivity.summary()
    assert s["parallel_significantly_more"] == 1 and s["compared"] == 2
    assert "significantly in 1" in f.verdicts()["sensitivity"]


def test_no_interaction_when_both_modes_follow_one_law() -> None:
    recs = study(lambda m, hp: 50.0 * hp["epochs"], {"epochs": [10, 2, 5, 20, 40]}, noise=0.05, seed=3)
    (p,) = run(recs).sensitivity.pairs
    assert not p.significant and p.p > 0.05


def test_joint_design_partial_elasticities() -> None:
    values = {"epochs": [2, 5, 10, 20], "batch_size": [16, 32, 64, 128]}
    recs = joint(lambda m, hp: 10.0 * hp["epochs"] * (hp["batch_size"] / 32) ** -0.5, values, 60, "sequential")
    recs += joint(lambda m, hp: 10.0 * hp["epochs"] * (hp["batch_size"] / 32) ** -0.5, values, 60, "parallel",
                  seed=1)
    pairs = {p.hyperparameter: p for p in run(recs).sensitivity.pairs}
    assert pairs["batch_size"].sequential.slope == pytest.approx(-0.5, abs=0.05)
    assert pairs["epochs"].parallel.slope == pytest.approx(1.0, abs=0.05)


def test_spread_per_mode() -> None:
    recs = study(interaction_law, {"epochs": [10, 2, 5, 20, 40]})
    spreads = {s.mode: s for s in run(recs).sensitivity.spreads}
    e = [r.energy.gpu_energy_j for r in recs if r.mode == "parallel"]
    logs = [math.log(x) for x in e]
    assert spreads["parallel"].cv == pytest.approx(st.tstd(e) / (sum(e) / len(e)))
    assert spreads["parallel"].sd_log == pytest.approx(st.tstd(logs))
    assert spreads["parallel"].sd_log > spreads["sequential"].sd_log


def test_only_one_mode_has_no_pairs() -> None:
    f = run(study(epochs_law, {"epochs": [10, 2, 5]}, modes=("sequential",)))
    assert f.sensitivity.pairs == [] and "nothing to compare" in f.verdicts()["sensitivity"]


# edge cases ----------------------------------------------------------------------------------------
def test_one_row() -> None:
    f = run([record(hp={"epochs": 10}, gpu_j=100.0)])
    (g,) = f.groups
    assert g.correlations == [] and g.greener.baseline.energy.n == 1 and g.greener.candidates == []
    assert json.dumps(f.to_json())  # serialisable, no NaN


def test_constant_energy_is_not_tested() -> None:
    recs = study(lambda m, hp: 100.0, {"epochs": [10, 2, 5]}, modes=("sequential",), noise=0.0)
    (h,) = run(recs).groups[0].correlations
    assert h.direction == "untested" and "energy constant" in h.all_rows.reason
    assert "no significant" not in h.verdict


def test_too_few_rows_and_failed_runs_left_out() -> None:
    recs = [record(hp={"epochs": e}, mutated=("epochs",), gpu_j=10.0 * e) for e in (2, 4)]
    recs.append(record(hp={"epochs": 8}, mutated=("epochs",), gpu_j=80.0, status="failed"))
    recs.append(record(hp={"epochs": 9}, mutated=("epochs",), gpu_j=None))
    f = run(recs)
    (g,) = f.groups
    assert len(g.group.rows) == 2 and g.group.dropped["energy not measured (or partial)"] == 1
    (h,) = g.correlations
    assert "at least 3" in h.all_rows.reason and f.excluded == 1


def test_no_energy_at_all_gives_no_group() -> None:
    f = run([record(gpu_j=None), record(gpu_j=None)])
    assert f.groups == [] and "No hyperparameter could be tested" in f.verdicts()["correlation"]


# provenance ----------------------------------------------------------------------------------------
def test_mixed_methods_are_said_and_can_be_split() -> None:
    own = study(epochs_law, {"epochs": [10, 2, 5]}, modes=("sequential",))
    old = [imported(r) for r in study(epochs_law, {"epochs": [10, 20, 30]}, modes=("sequential",), seed=1)]
    f = run(own + old)
    assert f.mixed_methods and f.groups[0].mixed_methods
    assert "mixes energy methods" in f.verdicts()["provenance"] and "--split-methods" in f.verdicts()["provenance"]
    data = f.to_json()
    assert data["provenance"]["mixed"] and data["groups"][0]["energy_methods"] == {
        "nvml-energy-counter": len(own), "nvidia-smi-1hz-sum": len(old)}
    split = run(own + old, split_methods=True)
    assert [g.group.key.method for g in split.groups] == ["nvidia-smi-1hz-sum", "nvml-energy-counter"]
    assert all(not g.mixed_methods for g in split.groups)


def test_json_shape() -> None:
    recs = study(interaction_law, {"epochs": [10, 2, 5, 20]})
    data = json.loads(json.dumps(run(recs).to_json({"sessions": ["s1"]})))
    assert data["schema"] == SCHEMA and data["sources"]["sessions"] == ["s1"]
    assert set(data["verdicts"]) == {"correlation", "greener", "sensitivity", "energy_to_target", "provenance"}
    g = data["groups"][0]
    assert g["energy_quantity"] == "GPU energy (J)" and g["energy_methods"] == {"nvml-energy-counter": len(g["rows"])}
    test = g["correlation"][0]["tests"][0]
    assert {"scope", "n", "rho", "p", "q", "sign", "significant"} <= set(test)
    assert g["greener"]["baseline"]["energy_j"]["ci95"] and g["greener"]["baseline"]["baseline"]
    assert data["sensitivity"]["pairs"][0]["parallel"]["ci95"]
    assert data["carbon"]["total_g_co2e"] == pytest.approx(data["carbon"]["total_energy_j"] / 3.6e6 * 480.0)


def test_a_group_of_one_mutated_row_has_no_default() -> None:
    # examples/mnist's declared default epochs is 10: a lone epochs=5 row is not the default setting
    (g,) = run([record(hp={"epochs": 5}, mutated=("epochs",), gpu_j=50.0)]).groups
    assert g.greener.baseline is None
    assert [s.name for s in g.greener.settings] == ["epochs=5"]


def test_unknown_workload_defaults_come_from_its_default_runs() -> None:
    # no declared defaults: the runs labelled "default" say what a missing value is
    recs = [record(workload="my/model", hp={"epochs": 3}, label="default", gpu_j=30.0)]
    recs += [record(workload="my/model", hp={"epochs": 7}, label="seed", gpu_j=70.0) for _ in range(3)]
    recs += [record(workload="my/model", hp={"lr": 0.1}, mutated=("lr",), gpu_j=31.0)]
    (g,) = finding_groups(recs, DEFAULTS)
    filled = next(r for r in g.rows if r.record.mutated)
    assert filled.value("epochs") == 3 and filled.defaulted == {"epochs"}


def test_primary_metric_ties_follow_the_declared_order() -> None:
    from hyperwatt.analysis.rows import registry_metric_order

    recs = [record(workload="Person_reID/densenet121", hp={"epochs": 60}, gpu_j=100.0,
                   metrics={"mAP": 0.6, "rank1": 0.8, "rank5": 0.9})]
    (g,) = findings(recs, DEFAULTS, GOALS, FindingsOptions(), None, registry_metric_order()).groups
    assert g.greener.metric == "rank1"  # declared first; alphabetically mAP would win
