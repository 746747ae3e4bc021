"""The seed system's JSON formats load as-is into the same models as hyperwatt's TOML."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hyperwatt.config import Registry, load_plan, load_registry
from hyperwatt.engine.command import build_argv
from hyperwatt.errors import ConfigError
from hyperwatt.mutation import expand

DATA = Path(__file__).parent / "data"


@pytest.fixture
def seed_tree(tmp_path: Path) -> Path:
    """The seed's layout: mutation/models_config.json beside repos/<name>/train.sh."""
    (tmp_path / "mutation").mkdir()
    shutil.copy(DATA / "models_config.json", tmp_path / "mutation" / "models_config.json")
    for repo in ("examples", "VulBERTa", "Person_reID_baseline_pytorch"):
        (tmp_path / "repos" / repo).mkdir(parents=True)
    for name in ("parallel_settings.json", "mixed_settings.json"):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def test_models_config_imports_every_repo_model(seed_tree):
    reg = load_registry([seed_tree / "mutation" / "models_config.json"])
    mnist = reg.get("examples/mnist")
    assert mnist.workdir == (seed_tree / "repos" / "examples").resolve()  # resolved from the seed's root
    assert mnist.argv == ["./train.sh", "-n", "mnist"]
    assert mnist.hyperparameters["learning_rate"].distribution == "log_uniform"
    assert mnist.metrics.patterns["test_accuracy"].match == "last"
    assert mnist.pass_defaults is False
    cnn = reg.get("VulBERTa/cnn")
    assert cnn.argv == ["./train.sh", "-n", "cnn", "-d", "d2a"]
    assert cnn.hyperparameters["seed"].default is None
    # the seed's repo name maps onto ours
    assert reg.get("Person_reID_baseline_pytorch/pcb").name == "Person_reID/pcb"


def test_seed_defaults_are_not_passed_only_what_is_set(seed_tree):
    reg = load_registry([seed_tree / "mutation" / "models_config.json"])
    loaded = load_plan(seed_tree / "parallel_settings.json", reg)
    first = expand(loaded).experiments[0]
    assert build_argv(first.foreground) == ["./train.sh", "-n", "mnist_ff", "-e", "1", "-l", "0.01", "-b", "32",
                                            "--seed", "1334"]
    assert first.foreground.typed()["epochs"] == 1  # outside the mutation range: fixed values may be


def test_parallel_settings_translate(seed_tree):
    reg = load_registry([seed_tree / "mutation" / "models_config.json"])
    loaded = load_plan(seed_tree / "parallel_settings.json", reg)
    plan = loaded.plan
    assert plan.name == "parallel_feasibility_v3" and plan.governor == "performance"
    assert plan.timing.retries == 1
    a, b = plan.experiments
    assert a.mode == "parallel" and a.background.workload == "VulBERTa/cnn" and a.mutate is None
    assert a.note == "Group 1" and a.repeats == 1
    assert b.background.workload == "Person_reID/densenet121"
    assert b.mutate.parameters == ["batch_size"] and b.mutate.mutations == 3 and b.mutate.strategy == "joint"
    planned = expand(loaded).experiments
    assert len(planned) == 4 and {p.mode for p in planned} == {"parallel"}


def test_mixed_settings_translate(seed_tree):
    reg = load_registry([seed_tree / "mutation" / "models_config.json"])
    plan = load_plan(seed_tree / "mixed_settings.json", reg).plan
    base, lr, every = plan.experiments
    assert base.mutate is None and base.repeats == 2 and base.hyperparameters == {"epochs": 12, "learning_rate": 0.01}
    assert lr.mutate.parameters == ["learning_rate"] and lr.mutate.mutations == 2
    assert every.mutate.parameters == ["epochs", "learning_rate", "batch_size", "seed"]
    assert every.mutate.mutations == 4 and plan.timing.retries == 2


@pytest.mark.parametrize("edit, key, reason", [
    (lambda d: d.update(experimnts=[]), "experimnts", "did you mean 'experiments'"),
    (lambda d: d["experiments"][0].update(forground={}), "experiments[0].forground", "did you mean 'foreground'"),
    (lambda d: d["experiments"][0]["foreground"].pop("repo"), "experiments[0].foreground.repo", "missing"),
    (lambda d: d.update(governor="turbo"), "governor", "unknown governor"),
    (lambda d: d["experiments"][1]["foreground"].update(mutate=["batch_sise"]),
     "experiments[1].foreground.mutate[0]", "did you mean 'batch_size'"),  # the key as the file writes it
    (lambda d: d["experiments"][0]["background"].update(model="nope"), "experiments[0].background.model",
     "unknown workload"),
])
def test_bad_seed_settings(seed_tree, edit, key, reason):
    data = json.loads((seed_tree / "parallel_settings.json").read_text())
    edit(data)
    path = seed_tree / "bad.json"
    path.write_text(json.dumps(data))
    reg = load_registry([seed_tree / "mutation" / "models_config.json"])
    with pytest.raises(ConfigError) as info:
        load_plan(path, reg)
    assert info.value.key == key, str(info.value)
    assert reason in info.value.reason, str(info.value)


def test_json_syntax_duplicates_and_nan_are_errors(tmp_path):
    for text, reason in [('{"experiments": [', "invalid JSON"), ('{"mode": 1, "mode": 2}', "appears twice"),
                         ('{"runs_per_config": NaN}', "NaN")]:
        path = tmp_path / "s.json"
        path.write_text(text)
        with pytest.raises(ConfigError, match=reason):
            load_plan(path, Registry.builtin())


def test_bad_models_config(tmp_path):
    path = tmp_path / "models_config.json"
    path.write_text(json.dumps({"models": {"r": {"path": ".", "train_script": "t", "models": ["m"],
                                                 "supported_hyperparams": {"lr": {"typ": "float"}}}}}))
    with pytest.raises(ConfigError) as info:
        load_registry([path])
    assert info.value.key == "models.r.supported_hyperparams.lr.typ"
