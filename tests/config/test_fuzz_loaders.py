"""Fuzzed loaders: whatever the bytes, loading raises nothing but the tool's own one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperwatt.config import Registry, load_plan, load_registry
from hyperwatt.errors import ConfigError

from config_helpers import each_problem_one_line

KEYS = st.sampled_from([
    "name", "seed", "experiments", "workload", "mode", "repeats", "mutate", "parameters", "mutations", "strategy",
    "hyperparameters", "background", "timing", "timeout_s", "retries", "cooldown", "min_s", "max_s", "parallel",
    "include_default", "repo", "model", "foreground", "runs_per_config", "max_retries", "experiment_name",
    "governor", "mutate_params", "epochs", "learning_rate", "examples/mnist", "workloads", "argv", "flag",
    "type", "default", "range", "distribution", "values", "metrics", "required", "patterns", "regex", "extends",
    "models", "path", "train_script", "supported_hyperparams", "log_patterns", "performance_metrics", "x",
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["examples/mnist", "toy/net", "parallel", "sequential", "joint", "int", "float", "log_uniform",
                     "choice", "all", "../..", "a/b/c", "{python}", "([0-9.]+)", "default", "mutation"]),
)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)), max_leaves=25)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(path: Path) -> None:
    try:
        load_plan(path, Registry.builtin())
    except ConfigError as err:
        each_problem_one_line(err)


@FUZZ
@given(data=st.dictionaries(KEYS, JSON, max_size=6))
def test_json_settings_never_crash(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("j") / "settings.json"
    path.write_text(json.dumps(data))
    _load(path)


@FUZZ
@given(data=st.dictionaries(KEYS, JSON, max_size=6))
def test_toml_plans_never_crash(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("t") / "plan.toml"
    try:
        text = tomli_w.dumps(_tomlable(data))
    except (TypeError, ValueError):
        return
    path.write_text(text)
    _load(path)


@FUZZ
@given(text=st.text(max_size=300))
def test_arbitrary_text_never_crashes(tmp_path_factory, text):
    d = tmp_path_factory.mktemp("x")
    for name in ("plan.toml", "plan.json"):
        (d / name).write_text(text)
        _load(d / name)


@FUZZ
@given(data=st.dictionaries(KEYS, JSON, max_size=4))
def test_workload_files_never_crash(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("w")
    (d / "models_config.json").write_text(json.dumps(data))
    for path in (d / "models_config.json",):
        try:
            load_registry([path])
        except ConfigError as err:
            each_problem_one_line(err)
    try:
        text = tomli_w.dumps({"workloads": _tomlable(data)})
    except (TypeError, ValueError):
        return
    (d / "w.toml").write_text(text)
    try:
        load_registry([d / "w.toml"])
    except ConfigError as err:
        each_problem_one_line(err)


def _tomlable(value):
    """TOML has no null: drop Nones, keep the rest."""
    if isinstance(value, dict):
        return {k: _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_tomlable(v) for v in value if v is not None]
    return value


@FUZZ
@given(hp=st.dictionaries(st.sampled_from(["epochs", "learning_rate", "batch_size", "seed", "size", "x"]), SCALARS,
                          max_size=4),
       mutate=st.dictionaries(st.sampled_from(["parameters", "strategy", "mutations", "x"]), JSON, max_size=3),
       timing=st.dictionaries(st.sampled_from(["timeout_s", "retries", "cooldown", "retry_delay_s"]), JSON, max_size=3))
def test_nearly_valid_plans_never_crash(tmp_path_factory, hp, mutate, timing):
    """A valid skeleton with hostile leaves reaches the deep checks (types, ranges, coercion)."""
    data = {"experiments": [{"workload": "examples/mnist", "hyperparameters": hp, "mutate": mutate,
                             "timing": timing}]}
    d = tmp_path_factory.mktemp("n")
    (d / "plan.json").write_text(json.dumps({"experiments": [{"repo": "examples", "model": "mnist",
                                                              "hyperparameters": hp, "mutate": mutate.get("parameters")}]}))
    _load(d / "plan.json")
    try:
        (d / "plan.toml").write_text(tomli_w.dumps(_tomlable(data)))
    except (TypeError, ValueError):
        return
    _load(d / "plan.toml")
