import pytest

from hyperwatt.analysis import analyse, dominance, pareto_mask
from hyperwatt.analysis.quantities import GPU_ENERGY

from .factories import record


def test_front_with_ties_and_a_maximised_metric() -> None:
    pts = [(1.0, 0.90), (1.0, 0.90), (2.0, 0.95), (2.0, 0.80), (3.0, 0.95)]
    dom = dominance(pts, ["min", "max"])
    assert [not d for d in dom] == [True, True, True, False, False]
    assert dom[3] == [0, 1, 2]
    assert dom[4] == [2]  # same accuracy for more energy


def test_front_with_a_minimised_metric() -> None:
    assert pareto_mask([(1.0, 0.5), (2.0, 0.3), (3.0, 0.4)], ["min", "min"]) == [True, True, False]


def test_front_in_three_objectives() -> None:
    pts = [(1.0, 0.8, 0.5), (2.0, 0.9, 0.4), (2.0, 0.8, 0.6), (0.5, 0.7, 0.7)]
    assert pareto_mask(pts, ["min", "max", "min"]) == [True, True, False, True]


def test_edge_cases() -> None:
    assert pareto_mask([], ["min", "max"]) == []
    assert pareto_mask([(1.0, 1.0)], ["min", "max"]) == [True]
    with pytest.raises(ValueError):
        dominance([(1.0, 2.0, 3.0)], ["min", "max"])


def test_fronts_of_a_group_with_energy_per_accuracy_point() -> None:
    def goals(workload: str, metric: str):
        return {"test_accuracy": "max", "test_loss": "min"}[metric]

    rows = [(0.01, 100.0, 0.90, 0.30), (0.02, 80.0, 0.85, 0.20), (0.04, 120.0, 0.89, 0.35)]
    runs = [record(hp={"learning_rate": lr}, mutated=() if lr == 0.01 else ("learning_rate",), gpu_j=e,
                   metrics={"test_accuracy": a, "test_loss": loss}) for lr, e, a, loss in rows]
    (g,) = analyse(runs, goals=goals).groups
    fronts = {f.metric: f for f in g.fronts}
    acc = fronts["test_accuracy"]
    assert acc.energy == GPU_ENERGY and acc.goal == "max"
    assert [p.setting.name for p in acc.front] == ["learning_rate=0.02", "default"]
    worst = next(p for p in acc.points if not p.on_front)
    assert worst.setting.name == "learning_rate=0.04" and worst.dominated_by == ("default",)
    default = next(p for p in acc.points if p.setting.is_reference)
    assert default.energy_per_point_j == pytest.approx(100.0 / 90.0)
    loss = fronts["test_loss"]
    assert [p.setting.name for p in loss.front] == ["learning_rate=0.02"]
    assert all(p.energy_per_point_j is None for p in loss.points)  # J per loss point makes no sense
    assert g.joint_front == {runs[0].key_hash, runs[1].key_hash}
