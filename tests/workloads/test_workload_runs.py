"""Every built-in workload, run on the CPU at size tiny as the registry declares it (subprocesses)."""

from __future__ import annotations

from pathlib import Path

import pytest
from workload_helpers import NAMES, WorkloadRun, builtin_tables, command, run

pytestmark = pytest.mark.slow

#: Hyperparameter values nobody would pick by accident, to find in the start line.
ODD = {"learning_rate": 0.0123, "weight_decay": 0.00037, "dropout": 0.35}
CHANCE = {"examples/mnist": 0.1, "examples/mnist_rnn": 0.1, "examples/mnist_ff": 0.1, "examples/siamese": 0.5}

_cache: dict[tuple[str, ...], WorkloadRun] = {}


def _run(tmp_path_factory: pytest.TempPathFactory, argv: list[str]) -> WorkloadRun:
    key = tuple(argv)
    if key not in _cache:
        _cache[key] = run(argv, tmp_path_factory.mktemp("run"))
    return _cache[key]


def _odd_argv(name: str, **overrides: object) -> list[str]:
    """The workload at size tiny with odd learning rate, weight decay and dropout (flags every module takes)."""
    argv = command(name, **overrides)
    return argv + ["--weight-decay", str(ODD["weight_decay"]), "--dropout", str(ODD["dropout"]),
                   "--learning-rate", str(ODD["learning_rate"])]


@pytest.mark.parametrize("name", NAMES)
def test_workload_runs_and_reports_its_required_metrics(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    result = _run(tmp_path_factory, _odd_argv(name))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.problems == []
    required = builtin_tables()[name]["metrics"]["required"]
    assert set(required) <= set(result.metrics)
    # phase events: one training epoch (on the CPU no warm-up is left out), evaluation, teardown
    phases = [(p.phase, p.epoch) for p in result.phases]
    assert phases[0] == ("train", 1) and phases[-2:] == [("evaluation", None), ("teardown", None)], phases
    assert result.phases[0].samples and result.phases[0].samples > 0
    assert [p.t_wall for p in result.phases] == sorted(p.t_wall for p in result.phases)
    m = result.metrics
    if name in CHANCE:
        assert 0.0 <= m["test_accuracy"] <= 1.0
    if name == "examples/mnist_ff":
        assert m["test_error"] == pytest.approx(1.0 - m["test_accuracy"])
    if name.startswith("pytorch_resnet_cifar10/"):
        assert 0.0 <= m["test_accuracy"] <= m["best_val_accuracy"] <= 1.0
    if name.startswith("Person_reID/"):
        assert 0.0 <= m["rank1"] <= m["rank5"] <= 1.0
        assert 0.0 < m["mAP"] <= 1.0
    if name.startswith("VulBERTa/"):
        assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["f1"] <= 1.0
        assert m["eval_loss"] > 0 and m["final_training_loss"] > 0 and m["train_samples_per_second"] > 0


@pytest.mark.parametrize("name", NAMES)
def test_workload_start_line_shows_the_hyperparameters_that_acted(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = _run(tmp_path_factory, _odd_argv(name))
    settings = result.settings()
    assert settings["workload"] == name
    for key, value in ODD.items():
        assert float(settings[key]) == pytest.approx(value)
    assert settings["epochs"] == "1" and settings["device"] == "cpu" and settings["size"] == "tiny"
    assert len(result.epoch_lines()) == 1
    assert f"lr={ODD['learning_rate']:.6g}" in result.epoch_lines()[0]


def test_digit_workloads_learn_above_chance_in_one_epoch(tmp_path_factory: pytest.TempPathFactory) -> None:
    for name, chance in CHANCE.items():
        result = _run(tmp_path_factory, _odd_argv(name))
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.metrics["test_accuracy"] > chance + 0.08, name


def test_epochs_and_batch_size_change_what_ran(tmp_path_factory: pytest.TempPathFactory) -> None:
    one = _run(tmp_path_factory, _odd_argv("VulBERTa/mlp"))
    two = _run(tmp_path_factory, _odd_argv("VulBERTa/mlp", epochs=2, batch_size=64))
    assert two.returncode == 0, two.stderr[-2000:]
    assert [ln.split()[1] for ln in two.epoch_lines()] == ["1/2", "2/2"]
    assert int(two.settings()["batch_size"]) == 64
    train = int(one.settings()["train_samples"])
    assert int(one.settings()["steps_per_epoch"]) == -(-train // 16)
    assert int(two.settings()["steps_per_epoch"]) == -(-train // 64)


def test_same_seed_gives_the_same_metrics(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    first = _run(tmp_path_factory, _odd_argv("examples/mnist"))
    again = run(_odd_argv("examples/mnist"), tmp_path)
    timings = {"epoch_duration_s"}
    assert {k: v for k, v in again.metrics.items() if k not in timings} == {
        k: v for k, v in first.metrics.items() if k not in timings}


def test_bad_data_dir_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    result = run(command("examples/mnist") + ["--data-dir", str(tmp_path)], tmp_path / "work")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no MNIST IDX files" in result.stderr and str(tmp_path) in result.stderr
    assert result.metrics == {}
