"""ETA of planned experiments: history first, else the declared duration scaled by `epochs`
(the test plans spend no time on idle baselines or cooldowns)."""

from __future__ import annotations

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine.eta import estimate_s, remaining_s
from hyperwatt.errors import ConfigError
from hyperwatt.mutation import expand

WORKLOAD = '''
[workloads."toy/est"]
argv = ["{python}", "train.py"]
estimated_duration_s = 100
estimated_startup_s = 10
[workloads."toy/est".hyperparameters]
epochs = { flag = "--epochs", type = "int", default = 10 }
[workloads."toy/est".metrics]
required = ["acc"]

[workloads."toy/steps"]
argv = ["{python}", "train.py"]
estimated_duration_s = 50
estimated_scales_with = "max_steps"
[workloads."toy/steps".hyperparameters]
max_steps = { flag = "--max-steps", type = "int", default = 1000 }
[workloads."toy/steps".metrics]
required = ["acc"]

[workloads."toy/flat"]
argv = ["{python}", "train.py"]
estimated_duration_s = 40
[workloads."toy/flat".hyperparameters]
steps = { flag = "--steps", type = "int", default = 10 }
[workloads."toy/flat".metrics]
required = ["acc"]
'''


def _planned(write_plan, experiments: str):  # type: ignore[no-untyped-def]
    return expand(load_plan(write_plan(experiments + WORKLOAD), Registry.builtin())).experiments


def test_the_declared_duration_scales_with_epochs_above_the_startup(write_plan) -> None:  # type: ignore[no-untyped-def]
    default, one, twenty = _planned(write_plan, '''
[[experiments]]
workload = "toy/est"
[[experiments]]
workload = "toy/est"
hyperparameters = { epochs = 1 }
[[experiments]]
workload = "toy/est"
hyperparameters = { epochs = 20 }
''')
    no_history = lambda name: []  # noqa: E731
    assert estimate_s(default, no_history) == pytest.approx(100)
    assert estimate_s(one, no_history) == pytest.approx(10 + 90 * 0.1)
    assert estimate_s(twenty, no_history) == pytest.approx(10 + 90 * 2)
    assert remaining_s([one, twenty], [], no_history) == pytest.approx(19 + 190)


def test_history_wins_and_a_workload_without_epochs_is_not_scaled(write_plan) -> None:  # type: ignore[no-untyped-def]
    est, flat = _planned(write_plan, '''
[[experiments]]
workload = "toy/est"
hyperparameters = { epochs = 1 }
[[experiments]]
workload = "toy/flat"
hyperparameters = { steps = 1 }
''')
    assert estimate_s(est, lambda name: [30.0, 50.0, 40.0]) == pytest.approx(40)
    assert estimate_s(flat, lambda name: []) == pytest.approx(40)


def test_a_parallel_experiment_adds_the_background_start_up(write_plan) -> None:  # type: ignore[no-untyped-def]
    (pe,) = _planned(write_plan, '''
[[experiments]]
workload = "toy/flat"
mode = "parallel"
background = { workload = "toy/est", hyperparameters = { epochs = 100 } }
''')
    assert estimate_s(pe, lambda name: []) == pytest.approx(40 + 10)  # toy/est starts up in 10 s


def test_a_workload_names_the_hyperparameter_its_duration_scales_with(write_plan) -> None:  # type: ignore[no-untyped-def]
    (pe,) = _planned(write_plan, """
[[experiments]]
workload = "toy/steps"
hyperparameters = { max_steps = 250 }
""")
    assert estimate_s(pe, lambda name: []) == pytest.approx(50 * 0.25)


def test_scaling_with_an_undeclared_hyperparameter_is_a_one_line_error(write_plan) -> None:  # type: ignore[no-untyped-def]
    bad = WORKLOAD.replace('estimated_scales_with = "max_steps"', 'estimated_scales_with = "max_step"')
    with pytest.raises(ConfigError) as info:
        load_plan(write_plan('[[experiments]]\nworkload = "toy/steps"\n' + bad), Registry.builtin())
    assert "no hyperparameter named 'max_step'" in str(info.value) and "\n" not in str(info.value)
