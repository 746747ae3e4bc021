import pytest

from hyperwatt.analysis import heuristic_goal, percent_scale, registry_goals
from hyperwatt.config import Registry
from hyperwatt.config.workload import MetricsSpec, Workload


@pytest.mark.parametrize("metric, goal", [
    ("test_accuracy", "max"), ("best_val_accuracy", "max"), ("f1", "max"), ("mAP", "max"), ("rank1", "max"),
    ("auc", "max"), ("precision", "max"), ("recall", "max"), ("test_loss", "min"), ("test_error", "min"),
    ("perplexity", "min"), ("top1_error", "min"), ("train_samples_per_second", None), ("epoch", None),
])
def test_goal_from_name(metric: str, goal: str | None) -> None:
    assert heuristic_goal(metric) == goal


def test_declared_goals_win_over_names() -> None:
    w = Workload(name="toy/net", argv=["python"], metrics=MetricsSpec(goals={"loss_drop": "max"}))
    lookup = registry_goals(Registry({"toy/net": w}))
    assert lookup("toy/net", "loss_drop") == "max"  # the name alone says min
    assert lookup("toy/net", "test_accuracy") == "max"
    assert lookup("unknown/workload", "test_loss") == "min"


def test_percent_scale() -> None:
    assert percent_scale("test_accuracy", [0.5, 0.9]) == 100.0
    assert percent_scale("test_accuracy", [50.0, 97.5]) == 1.0
    assert percent_scale("test_loss", [0.5]) is None
    assert percent_scale("rank1", [0.2]) == 100.0


def test_a_sessions_own_workload_goals_reach_the_report(tmp_path):
    from hyperwatt.analysis.command import session_goals

    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "plan.toml").write_text('''
name = "mine"
[workloads."lab/net"]
argv = ["python", "train.py"]
[workloads."lab/net".metrics]
required = ["widgetness"]
goals = { widgetness = "min", accuracy = "min" }
''')
    (tmp_path / "s2").mkdir()
    (tmp_path / "s2" / "plan.toml").write_text("not toml [")
    lookup = session_goals(tmp_path, ["s1", "s2", "missing"])
    assert lookup("lab/net", "widgetness") == "min"  # no name heuristic could know
    assert lookup("lab/net", "accuracy") == "min"  # declared beats the heuristic
    assert lookup("lab/other", "accuracy") == "max"  # undeclared: heuristic
    assert lookup("examples/mnist", "test_loss") == "min"  # built-ins still there
