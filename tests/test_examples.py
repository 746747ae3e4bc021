"""The example plans load as documented, and the third-party example trainings run under hyperwatt."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperwatt.config import load_plan, load_registry
from hyperwatt.engine import SessionOptions, run_plan
from hyperwatt.mutation import expand

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("folder", ["seed_failure", "third_party"])
def test_example_plans_load_and_expand(folder):
    loaded = load_plan(EXAMPLES / folder / "plan.toml", load_registry([EXAMPLES / folder / "workloads.toml"]))
    assert expand(loaded).experiments


@pytest.mark.slow  # two real trainings (torch MNIST, a HuggingFace-style GLUE run)
def test_third_party_examples_run_unchanged(tmp_path):
    pytest.importorskip("torch")
    plan = tmp_path / "plan.toml"
    plan.write_text('name = "third_party_test"\n[timing]\nidle_baseline_s = 0\nretries = 0\n'
                    '[timing.cooldown]\nmin_s = 0\nmax_s = 0\n'
                    '[[experiments]]\nworkload = "pytorch_examples/mnist"\nhyperparameters = { epochs = 1, no_cuda = true }\n'
                    '[[experiments]]\nworkload = "hf_examples/glue"\nhyperparameters = { num_train_epochs = 0.25 }\n')
    loaded = load_plan(plan, load_registry([EXAMPLES / "third_party" / "workloads.toml"]))
    result = run_plan(loaded, SessionOptions(results_dir=tmp_path / "results", sensors_factory=lambda p: None))
    mnist, glue = sorted(result.records, key=lambda r: r.slot)
    assert mnist.status == "succeeded", mnist.status_reason
    assert mnist.argv[-3:] == ["--epochs", "1", "--no-cuda"]
    assert set(mnist.metrics) == {"test_accuracy", "test_loss", "train_loss"}
    assert 0 <= mnist.metrics["test_accuracy"] <= 1
    assert glue.status == "succeeded", glue.status_reason
    assert {"eval_accuracy", "eval_loss", "train_loss"} <= set(glue.metrics)
    assert (result.layout.dir / glue.experiment_id / "attempt-1" / "output" / "all_results.json").exists()
    assert not (EXAMPLES / "third_party" / "glue" / "output").exists()
