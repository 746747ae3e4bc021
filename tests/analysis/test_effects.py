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
    # 95% intervals: energy from the bounds alone (type B, k = 1.96); accuracy from the spread, Welch–
    # Satterthwaite ν = 2 (t = 4.303) on the standard errors 0.1 pp each
    assert energy.ci95 == pytest.approx((-0.03 - 1.959964 * 0.97 * math.sqrt((u / 100) ** 2 + (u / 97) ** 2),
                                         -0.03 + 1.959964 * 0.97 * math.sqrt((u / 100) ** 2 + (u / 97) ** 2)))
    half = stats.t.ppf(0.975, 2) * math.sqrt(0.02)
    assert acc.ci95 == pytest.approx((0.4 - half, 0.4 + half))
    assert energy.claimed and not acc.claimed and energy.n == (2, 2)
    assert ch.text([GPU_ENERGY, ACC]) == ("learning_rate ×2 → GPU energy −3.0% (95% CI −4.6% … −1.4%), "
                                          "test_accuracy +0.4 pp (95% CI −0.2 pp … +1.0 pp)")


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


def test_one_run_per_setting_gives_no_interval_and_claims_nothing() -> None:
    from hyperwatt.analysis.summary import summary_text

    runs = [record(hp={"learning_rate": 0.01, "epochs": 2}, gpu_j=138.0)]
    runs += [record(hp={"learning_rate": lr, "epochs": 2}, mutated=("learning_rate",), gpu_j=j)
             for lr, j in ((0.0186, 44.0), (0.02, 40.0))]
    analysis = analyse(runs, goals=_goals)
    (ch, _) = analysis.groups[0].changes
    d = ch.delta(GPU_ENERGY)
    assert d.ci95 is None and not d.spread_known and not d.claimed and d.n == (1, 1)
    text = summary_text(analysis)
    assert "1 run per setting: the run-to-run spread is unknown, so no effect is claimed" in text
    assert "effect:" not in text and "ρ" not in text  # the rank correlation of three single runs is not shown
    assert "observed once: GPU energy −68.1%" in text and "spread unknown, no effect claimed" in text


def test_effects_with_repeats_state_their_interval_and_whether_it_excludes_no_change() -> None:
    from hyperwatt.analysis.summary import summary_text

    runs = []
    for bump in (0.0, 1.0, 2.0):
        runs.append(record(hp={"batch_size": 32}, gpu_j=100.0 + bump))
        runs.append(record(hp={"batch_size": 110}, mutated=("batch_size",), gpu_j=60.0 + bump))
        runs.append(record(hp={"batch_size": 64}, mutated=("batch_size",), gpu_j=99.0 + 2 * bump))
    text = summary_text(analyse(runs, goals=_goals))
    line = next(x for x in text.splitlines() if "batch_size ×3.44" in x)
    assert "GPU energy −39.6% (95% CI" in line and "no clear change" not in line.split(",")[0]
    assert "(3 runs vs 3 of the default)" in line
    other = next(x for x in text.splitlines() if "batch_size ×2" in x)
    assert "GPU energy +0.0% (95% CI" in other and "no clear change" in other
    assert "3 settings (3 runs each)" in text and "1 run per setting" not in text


def test_correlations_never_pool_runs_whose_other_hyperparameters_differ() -> None:
    """report --all over a one-epoch and a two-epoch session: the learning-rate ρ is computed within
    each epochs value, not over both (where the epochs would drive it)."""
    runs = []
    for epochs, base in ((1, 50.0), (2, 100.0)):
        for i, lr in enumerate((0.01, 0.02, 0.04)):
            runs.append(record(hp={"learning_rate": lr, "epochs": epochs}, mutated=("learning_rate",),
                               gpu_j=base - i, session=f"s{epochs}"))
    found = correlations(runs, ["learning_rate", "epochs"], [GPU_ENERGY])
    lr = [c for c in found if c.hyperparameter == "learning_rate"]
    assert sorted(c.context for c in lr) == ["epochs=1", "epochs=2"]
    assert all(c.n == 3 and c.rho == pytest.approx(-1.0) for c in lr)
    assert "at epochs=2" in next(c for c in lr if c.context == "epochs=2").text()


def test_a_jointly_mutated_hyperparameter_is_named_as_confounding() -> None:
    runs = [record(hp={"learning_rate": lr, "batch_size": b}, mutated=("learning_rate", "batch_size"),
                   gpu_j=float(i)) for i, (lr, b) in enumerate(((0.01, 16), (0.02, 64), (0.04, 32)))]
    (c,) = [c for c in correlations(runs, ["learning_rate", "batch_size"], [GPU_ENERGY])
            if c.hyperparameter == "learning_rate"]
    assert c.varied_with == ("batch_size",) and "batch_size varied with it (confounded)" in c.text()


def test_a_bound_proportional_to_the_value_cancels_in_a_ratio() -> None:
    """A CPU-time estimate's ±100% is one watts-per-CPU factor shared by every run: it scales default and
    setting alike, so the interval of their ratio comes from the run-to-run spread alone."""
    from hyperwatt.analysis.quantities import CPU_ENERGY
    from hyperwatt.records import Energy, SensorEnergy

    def cpu_run(j: float, mutated: tuple[str, ...] = ()) -> object:
        r = record(hp={"batch_size": 110 if mutated else 32}, mutated=mutated, gpu_j=None)
        sensor = SensorEnergy(sensor="cpu-estimate", domain="cpu", method="cpu-time-estimate", energy_j=j,
                              uncertainty_j=j, duration_s=10.0)
        r.energy = Energy(available=True, cpu_energy_j=j, cpu_uncertainty_j=j, cpu_method="cpu-time-estimate",
                          total_energy_j=j, sensors=[sensor])
        return r

    runs = [cpu_run(j) for j in (100.0, 102.0, 98.0)] + [cpu_run(j, ("batch_size",)) for j in (60.0, 61.0, 59.0)]
    (g,) = analyse(runs, goals=_goals).groups
    d = g.changes[0].delta(CPU_ENERGY)
    assert d.ci95 is not None and d.claimed  # about −40% ± 4%, not ± 200%
    assert d.ci95[1] - d.ci95[0] < 0.15
