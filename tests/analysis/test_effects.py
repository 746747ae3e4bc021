import math

import pytest
from scipy import stats

from hyperwatt.analysis import HyperparameterChange, analyse, correlations
from hyperwatt.analysis.effects import runs_for
from hyperwatt.analysis.quantities import GPU_ENERGY, metric_quantity

from .factories import record

ACC = metric_quantity("test_accuracy")


def _goals(workload: str, metric: str):
    return {"test_accuracy": "max", "test_loss": "min"}.get(metric)


def test_spearman_signs_on_monotone_data() -> None:
    runs = [record(hp={"learning_rate": lr}, mutated=("learning_rate",), gpu_j=100 + 10 * i,
                   metrics={"test_accuracy": 0.99 - 0.01 * i * i})
            for i, lr in enumerate([0.001, 0.002, 0.005, 0.01, 0.02])]
    out = {c.quantity.key: c for c in correlations(runs, ["learning_rate"], [GPU_ENERGY, ACC])}
    assert out["gpu_energy_j"].rho == pytest.approx(1.0) and out["gpu_energy_j"].n == 5
    assert out["metric:test_accuracy"].rho == pytest.approx(-1.0)  # monotone, not linear
    assert out["gpu_energy_j"].p_value == pytest.approx(2 / 120)  # exact: 2 of the 5! orderings are as extreme


def test_spearman_with_ties_matches_hand_ranks() -> None:
    xs = [1, 1, 2, 2, 3, 3]  # six settings (jointly mutated with a seed), ties in epochs
    runs = [record(hp={"epochs": x, "seed": i}, mutated=("epochs", "seed"), gpu_j=float(i + 1))
            for i, x in enumerate(xs)]
    (c,) = correlations(runs, ["epochs"], [GPU_ENERGY])
    # ranks x: 1.5 1.5 3.5 3.5 5.5 5.5; ranks y: 1..6 -> Σdxdy = 16, Σdx² = 16, Σdy² = 17.5
    assert c.rho == pytest.approx(16 / math.sqrt(16 * 17.5)) and c.n == 6


def test_repeats_of_a_setting_are_one_point_not_independent_evidence() -> None:
    """Nine seeded runs of three settings are three settings: with ρ = 1 the exact p is 2/3! = 1/3,
    where nine points would have claimed p < 0.001."""
    runs = [record(hp={"learning_rate": lr}, mutated=("learning_rate",), gpu_j=100.0 + k)
            for k, lr in enumerate([0.001, 0.01, 0.1]) for _ in range(3)]
    (c,) = correlations(runs, ["learning_rate"], [GPU_ENERGY])
    assert c.n == 3 and c.rho == pytest.approx(1.0) and c.p_value == pytest.approx(1 / 3)
    assert "n = 3 settings" in c.text()


def test_many_settings_fall_back_to_scipys_p_value() -> None:
    runs = [record(hp={"epochs": e}, mutated=("epochs",), gpu_j=float(e + (e % 3)))
            for e in range(1, 13)]
    (c,) = correlations(runs, ["epochs"], [GPU_ENERGY])
    xs, ys = list(range(1, 13)), [float(e + (e % 3)) for e in range(1, 13)]
    assert c.n == 12 and c.p_value == pytest.approx(float(stats.spearmanr(xs, ys).pvalue))


def test_one_at_a_time_runs_of_another_hyperparameter_are_not_credited_to_this_one() -> None:
    # default lr=0.01, bs=32; lr mutated alone (bs at default) and bs mutated alone (lr at default).
    # Energy follows bs only: the bs runs (lr at 0.01) must not make lr look correlated with energy.
    default = [record(hp={"learning_rate": 0.01, "batch_size": 32}, gpu_j=100.0) for _ in range(2)]
    lr_runs = [record(hp={"learning_rate": lr, "batch_size": 32}, mutated=("learning_rate",), gpu_j=100.0 + d)
               for lr, d in ((0.005, 0.5), (0.02, -0.5), (0.04, 0.25))]
    bs_runs = [record(hp={"learning_rate": 0.01, "batch_size": bs}, mutated=("batch_size",), gpu_j=100.0 * 32 / bs)
               for bs in (8, 16, 64, 128)]
    out = {c.hyperparameter: c for c in correlations(default + lr_runs + bs_runs, ["learning_rate", "batch_size"],
                                                     [GPU_ENERGY])}
    # the default's two repeats are one setting, plus each one's own mutations
    assert out["learning_rate"].n == 4 and abs(out["learning_rate"].rho) < 0.5
    assert out["batch_size"].n == 5 and out["batch_size"].rho < -0.9
    # jointly mutated runs all count (a marginal association, as the report says)
    joint = [record(hp={"learning_rate": lr, "batch_size": bs}, mutated=("learning_rate", "batch_size"),
                    gpu_j=100.0 * 32 / bs) for lr, bs in ((0.005, 8), (0.02, 16), (0.04, 64))]
    assert {c.hyperparameter: c.n for c in correlations(default + joint, ["learning_rate", "batch_size"],
                                                         [GPU_ENERGY])} == {"learning_rate": 4, "batch_size": 4}
    # the report's hyperparameter panels use the same runs
    assert runs_for(default + lr_runs + bs_runs, "batch_size") == default + bs_runs


def test_no_correlation_without_enough_points_or_variation() -> None:
    two = [record(hp={"epochs": e}, gpu_j=float(e)) for e in (1, 2)]
    assert correlations(two, ["epochs"], [GPU_ENERGY]) == []
    flat = [record(hp={"epochs": e}, gpu_j=50.0) for e in (1, 2, 3)]
    assert correlations(flat, ["epochs"], [GPU_ENERGY]) == []
    text = [record(hp={"optimizer": o}, gpu_j=float(i)) for i, o in enumerate(["sgd", "adam", "rmsprop"])]
    assert correlations(text, ["optimizer"], [GPU_ENERGY]) == []


def test_changes_relative_to_the_default_setting() -> None:
    ref = {"learning_rate": 0.01, "epochs": 10}
    lr2 = {"learning_rate": 0.02, "epochs": 10}
    runs = [record(hp=ref, gpu_j=100.0, gpu_unc_j=1.0, metrics={"test_accuracy": a}) for a in (0.899, 0.901)]
    runs += [record(hp=lr2, mutated=("learning_rate",), gpu_j=97.0, gpu_unc_j=1.0, metrics={"test_accuracy": a})
             for a in (0.903, 0.905)]
    (g,) = analyse(runs, goals=_goals).groups
    assert g.reference is not None and g.reference.name == "default"
    (ch,) = g.changes
    assert [c.name for c in ch.changes] == ["learning_rate"]
    assert ch.changes[0].ratio == pytest.approx(2.0)
    energy = ch.delta(GPU_ENERGY)
    assert energy.unit == "%" and energy.change == pytest.approx(-0.03)
    u = 1 / math.sqrt(3)  # no spread; bound 1 J as rectangular
    assert energy.uncertainty == pytest.approx(2 * 0.97 * math.sqrt((u / 100) ** 2 + (u / 97) ** 2))
    acc = ch.delta(ACC)
    assert acc.unit == "pp" and acc.change == pytest.approx(0.4)
    assert acc.uncertainty == pytest.approx(2 * 100 * math.sqrt(2 * 0.001 ** 2))
    # Welch, df = 2: t = 2√2, two-sided p = 1 - t / √(2 + t²)
    assert acc.p_value == pytest.approx(1 - 2 * math.sqrt(2) / math.sqrt(10), rel=1e-6)
    assert ch.text([GPU_ENERGY, ACC]) == "learning_rate ×2 → GPU energy −3.0% ± 1.6%, test_accuracy +0.4 pp ± 0.28"


def test_no_default_measured_no_changes() -> None:
    runs = [record(hp={"learning_rate": lr}, mutated=("learning_rate",)) for lr in (0.02, 0.03)]
    (g,) = analyse(runs, goals=_goals).groups
    assert g.reference is None and g.changes == []


def test_hyperparameter_change_wording() -> None:
    assert HyperparameterChange("learning_rate", 0.01, 0.02).text() == "learning_rate 0.01→0.02 (×2)"
    assert HyperparameterChange("learning_rate", 0.01, 0.02).text(compact=True) == "learning_rate ×2"
    assert HyperparameterChange("optimizer", "sgd", "adam").text(compact=True) == "optimizer sgd→adam"
    assert HyperparameterChange("weight_decay", 0.0, 0.001).text() == "weight_decay 0→0.001"
    assert HyperparameterChange("nesterov", False, True).ratio is None
