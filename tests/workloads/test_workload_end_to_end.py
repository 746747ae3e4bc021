"""A built-in workload run through hyperwatt itself: plan -> engine -> record with the workload's metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def test_builtin_mnist_runs_through_a_plan(write_plan: Callable[[str], Path], run_toy: Callable[..., Any]) -> None:
    plan = write_plan("""
        [[experiments]]
        workload = "examples/mnist"
        hyperparameters = { size = "tiny", device = "cpu", epochs = 1, learning_rate = 0.012 }
    """)
    result = run_toy(plan)
    record = next(r for r in result.records if r.slot == 0)
    assert record.status == "succeeded", [a.exit_code for a in record.attempts]
    (prepared,) = record.environment["prepare"]  # the digit set was built before the window
    assert prepared["exit_code"] == 0 and prepared["argv"][-4:] == ["--size", "tiny", "--device", "cpu"]
    assert record.phases is None  # no sensors here: nothing measured, nothing sliced
    assert record.hyperparameters["learning_rate"] == 0.012 and record.hyperparameters["batch_size"] == 32
    assert "--learning-rate" in record.argv and "0.012" in record.argv
    assert 0.2 < record.metrics["test_accuracy"] <= 1.0 and record.metrics["test_loss"] > 0
