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
    # floats as the seed's command line wrote them: "%.6f"
    assert build_argv(first.foreground) == ["./train.sh", "-n", "mnist_ff", "-e", "1", "-l", "0.010000", "-b", "32",
                                            "--seed", "1334"]
    assert first.foreground.typed()["epochs"] == 1  # outside the mutation range: fixed values may be
    exact = expand(load_plan(seed_tree / "parallel_settings.json", load_registry(
        [seed_tree / "mutation" / "models_config.json"]), seed_compat="intended")).experiments[0]
    assert build_argv(exact.foreground)[6] == "0.01"


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
    (lambda d: d.update(experimnts=d.pop("experiments")), "experiments", "the file has 'experimnts'"),
    (lambda d: d.update(governor="turbo"), "governor", "unknown governor"),
    (lambda d: d["experiments"][0]["foreground"].update(hyperparameters={"epochs": [1]}),
     "experiments[0].foreground.hyperparameters.epochs", "got a list"),
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


@pytest.mark.parametrize("edit, planned, note", [
    # what the seed skipped or ignored is a note (the entry skipped where it was), never a refusal
    (lambda d: d["experiments"][0].update(forground={}), 4, "'forground' (did you mean 'foreground'?)"),
    (lambda d: d["experiments"][0]["foreground"].pop("repo"), 3, "'repo'/'model' missing"),
    (lambda d: d["experiments"][1]["foreground"].update(mutate=["batch_sise"]), 1,
     "batch_sise on examples/mnist (did you mean 'batch_size'?)"),
    (lambda d: d["experiments"][0]["background"].update(model="nope"), 3, "VulBERTa/nope"),
])
def test_seed_settings_the_seed_skipped(seed_tree, edit, planned, note):
    data = json.loads((seed_tree / "parallel_settings.json").read_text())
    edit(data)
    path = seed_tree / "bad.json"
    path.write_text(json.dumps(data))
    reg = load_registry([seed_tree / "mutation" / "models_config.json"])
    loaded = load_plan(path, reg)
    assert len(expand(loaded).experiments) == planned
    assert any(note in line for line in loaded.notes), loaded.notes
    with pytest.raises(ConfigError, match="--strict") as info:
        load_plan(path, reg, strict=True)
    assert note in str(info.value)


def test_json_syntax_and_nan_are_errors_duplicates_a_note(tmp_path):
    for text, reason in [('{"experiments": [', "invalid JSON"), ('{"runs_per_config": NaN}', "NaN")]:
        path = tmp_path / "s.json"
        path.write_text(text)
        with pytest.raises(ConfigError, match=reason):
            load_plan(path, Registry.builtin())
    path = tmp_path / "s.json"
    path.write_text('{"runs_per_config": 1, "runs_per_config": 2, "experiments": '
                    '[{"repo": "examples", "model": "mnist", "mode": "default"}]}')
    loaded = load_plan(path, Registry.builtin())
    assert loaded.plan.experiments[0].repeats == 2  # json.load: the last one counts
    assert any("written twice" in n and "'runs_per_config'" in n for n in loaded.notes)


def test_bad_models_config(tmp_path):
    path = tmp_path / "models_config.json"
    path.write_text(json.dumps({"models": {"r": {"path": ".", "train_script": "t", "models": ["m"],
                                                 "supported_hyperparams": {"lr": {"typ": "float"}}}}}))
    with pytest.raises(ConfigError) as info:
        load_registry([path])
    assert info.value.key == "models.r.supported_hyperparams.lr.typ"
