"""Fuzzed near-valid plans, workloads and seed files: hostile leaves on a valid skeleton reach the deep
checks. Whatever the input: a plan that expands, whose commands build and whose saved form reloads,
or one ConfigError line; never another exception."""

from __future__ import annotations

import json
import math
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperwatt.config import Registry, load_plan, load_registry
from hyperwatt.engine.command import build_argv, build_env
from hyperwatt.errors import ConfigError

from config_helpers import each_problem_one_line
from hyperwatt.mutation import expand

LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10), st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", " ", "all", "default", "mutation", "parallel", "mixed", "joint", "int", "float", "str",
                     "bool", "choice", "log_uniform", "uniform", "examples", "mnist", "toy/net", "examples/mnist",
                     "--lr", "-e", "./train.sh", "{python}", "{", "}", "{{x}}", "a\x00b", "ü n|i\"c'o$(d)e",
                     "([0-9.]+)", "(", "1e-3", "nan", "inf", "true", "10", "performance", "../..", "/"]),
)
VALUE = st.recursive(LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                    st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                     max_leaves=6)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


_DELETE = object()


def _mutate_tree(tree: object, path: list[int], value: object) -> object:
    """`tree` with the node at `path` (indices into keys/items, stopping where it can't go) replaced
    by `value`, or deleted when `value` is _DELETE."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict) and tree:
        key = list(tree)[head % len(tree)]
        out = dict(tree)
        new = _mutate_tree(tree[key], rest, value)
        if new is _DELETE:
            del out[key]
        else:
            out[key] = new
        return out
    if isinstance(tree, list) and tree:
        out = list(tree)
        new = _mutate_tree(tree[head % len(tree)], rest, value)
        if new is _DELETE:
            del out[head % len(tree)]
        else:
            out[head % len(tree)] = new
        return out
    return value


PATHS = st.lists(st.integers(0, 12), min_size=1, max_size=5)
VALUE = st.one_of(VALUE, st.just(_DELETE))


def _check(load) -> None:
    try:
        loaded = load()
    except ConfigError as err:
        each_problem_one_line(err)
        return
    expansion = expand(loaded)
    for pe in expansion.experiments[:50]:
        argv = build_argv(pe.foreground)
        assert argv and all(isinstance(a, str) and "\0" not in a for a in argv)
        build_env(pe.foreground, None, None, base={})
        if pe.background:
            build_argv(pe.background)
    text = loaded.resolved_toml()
    assert loaded.plan_hash and text
    # the saved plan.toml is what `resume` reloads: it must expand to the very same experiments
    saved = loaded.source.parent / "saved-plan.toml"
    saved.write_text(text)
    again = expand(load_plan(saved, Registry.builtin()))
    assert [pe.key_hash for pe in again.experiments] == [pe.key_hash for pe in expansion.experiments]
    for value in loaded.plan.model_dump().values():
        if isinstance(value, float):
            assert math.isfinite(value)


SEED_SETTINGS = {
    "experiment_name": "x", "mode": "mutation", "runs_per_config": 2, "max_retries": 1, "governor": "performance",
    "seed": 3, "comment": "c",
    "experiments": [
        {"repo": "examples", "model": "mnist", "mode": "mutation", "mutate": ["learning_rate", "epochs"],
         "hyperparameters": {"batch_size": 32}, "runs_per_config": 2, "note": "n"},
        {"repo": "examples", "model": "mnist_ff", "mode": "default", "hyperparameters": {"epochs": 1, "seed": 5}},
        {"mode": "parallel", "runs_per_config": 1,
         "foreground": {"repo": "examples", "model": "mnist_rnn", "mode": "mutation", "mutate": ["all"]},
         "background": {"repo": "Person_reID_baseline_pytorch", "model": "densenet121",
                        "hyperparameters": {"epochs": 1}}},
    ],
}


@FUZZ
@given(path=PATHS, value=VALUE)
def test_seed_settings_with_a_hostile_leaf(tmp_path_factory, path, value):
    d = tmp_path_factory.mktemp("s")
    (d / "settings.json").write_text(json.dumps(_mutate_tree(SEED_SETTINGS, path, value)))
    _check(lambda: load_plan(d / "settings.json", Registry.builtin()))


MODELS_CONFIG = {"models": {"r": {
    "path": "repo", "train_script": "./train.sh", "models": ["m", "n"], "model_flag": "-n",
    "required_args": {"d": "-d 'a b' {x}"},
    "supported_hyperparams": {
        "epochs": {"flag": "-e", "type": "int", "default": 10, "range": [5, 15], "distribution": "uniform"},
        "lr": {"flag": "--lr", "type": "float", "default": 0.01, "range": [0.001, 0.1], "distribution": "log_uniform"},
        "opt": {"type": "str", "distribution": "choice", "values": ["sgd", "adam"], "default": "sgd"},
        "amp": {"flag": "--amp", "type": "bool", "default": False},
    },
    "performance_metrics": {"log_patterns": {"acc": "Acc[:\\s]+([0-9.]+)"}},
}}}


@FUZZ
@given(path=PATHS, value=VALUE, mutate=st.sampled_from([["all"], ["epochs"], ["lr", "opt", "amp"], None]))
def test_models_config_with_a_hostile_leaf(tmp_path_factory, path, value, mutate):
    d = tmp_path_factory.mktemp("m")
    (d / "repo").mkdir()
    (d / "models_config.json").write_text(json.dumps(_mutate_tree(MODELS_CONFIG, path, value)))
    exp = {"repo": "r", "model": "m", "runs_per_config": 3, **({"mutate": mutate} if mutate else {})}
    (d / "settings.json").write_text(json.dumps({"experiments": [exp]}))
    _check(lambda: load_plan(d / "settings.json", load_registry([d / "models_config.json"])))


WORKLOAD_PLAN = {
    "name": "p", "seed": 1,
    "timing": {"timeout_s": 60, "retries": 1, "cooldown": {"min_s": 0, "max_s": 1}},
    "sensors": {"rate_hz": 10, "gpus": [0]},
    "workloads": {"a/b": {
        "argv": ["{python}", "train.py", "--x"], "workdir": ".", "env": {"A": "1"},
        "estimated_duration_s": 10, "estimated_startup_s": 1,
        "hyperparameters": {
            "epochs": {"flag": "--epochs", "type": "int", "default": 2, "range": [1, 5]},
            "lr": {"flag": "--lr=", "type": "float", "default": 0.1, "range": [0.01, 1], "distribution": "log_uniform"},
            "opt": {"flag": "--opt", "type": "str", "distribution": "choice", "values": ["a", "b"], "default": "a"},
            "amp": {"flag": "--amp", "type": "bool", "default": False},
        },
        "metrics": {"required": ["acc"], "patterns": {"acc": {"regex": "acc ([0-9.]+)", "match": "max"}}},
    }},
    "experiments": [
        {"workload": "a/b", "repeats": 2, "include_default": True, "hyperparameters": {"opt": "b"},
         "mutate": {"parameters": ["epochs", "lr"], "strategy": "one_at_a_time", "mutations": 2}},
        {"workload": "a/b", "mode": "parallel", "background": {"workload": "examples/mnist"},
         "timing": {"retries": 0}},
    ],
}


@FUZZ
@given(path=PATHS, value=VALUE)
def test_toml_plan_with_a_hostile_leaf(tmp_path_factory, path, value):
    d = tmp_path_factory.mktemp("t")
    try:
        text = tomli_w.dumps(_tomlable(_mutate_tree(WORKLOAD_PLAN, path, value)))
    except (TypeError, ValueError):
        return
    (d / "plan.toml").write_text(text)
    _check(lambda: load_plan(d / "plan.toml", Registry.builtin()))


def _tomlable(value):
    if isinstance(value, dict):
        return {str(k): _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_tomlable(v) for v in value if v is not None]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return float(value)
    return value


def test_the_skeletons_are_valid(tmp_path: Path):
    """The fuzz starts from plans that load: a hostile leaf is what breaks them."""
    (tmp_path / "settings.json").write_text(json.dumps(SEED_SETTINGS))
    assert len(expand(load_plan(tmp_path / "settings.json", Registry.builtin())).experiments) == 5
    (tmp_path / "repo").mkdir()
    (tmp_path / "models_config.json").write_text(json.dumps(MODELS_CONFIG))
    (tmp_path / "s2.json").write_text(json.dumps({"experiments": [{"repo": "r", "model": "m"}]}))
    load_plan(tmp_path / "s2.json", load_registry([tmp_path / "models_config.json"]))
    (tmp_path / "plan.toml").write_text(tomli_w.dumps(WORKLOAD_PLAN))
    assert len(expand(load_plan(tmp_path / "plan.toml", Registry.builtin())).experiments) == 11


NUMBER = st.one_of(st.integers(-10**13, 10**13), st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(-1e-300, 1e-300), st.floats(1e11, 1e12))


@settings(max_examples=1000, deadline=None)
@given(kind=st.sampled_from(["int", "float", "str", "bool"]), dist=st.sampled_from(["uniform", "log_uniform", "choice"]),
       lo=NUMBER, hi=NUMBER, zero=st.floats(0, 0.99), use_range=st.booleans(), seed=st.integers(0, 10),
       values=st.lists(st.one_of(NUMBER, st.text(max_size=5), st.booleans()), max_size=4),
       default=st.one_of(st.none(), NUMBER, st.text(max_size=4), st.booleans()))
def test_any_declared_hyperparameter_samples_inside_its_range(kind, dist, lo, hi, zero, use_range, seed, values,
                                                              default):
    """A declaration is refused, or every draw reads back as itself and lies in the range (a bool with
    zero_probability drew 0: an internal error at plan)."""
    from pydantic import ValidationError

    from hyperwatt.config import HyperParam
    from hyperwatt.space import cardinality, from_text, sample

    spec = {"flag": "--x", "type": kind, "distribution": dist, "zero_probability": zero}
    if use_range:
        spec["range"] = (lo, hi)
    if dist == "choice":
        spec["values"] = values
    if default is not None:
        spec["default"] = default
    try:
        param = HyperParam(**spec)
    except ValidationError:
        return
    cardinality(param)
    if not param.mutable:
        return
    rng = __import__("random").Random(seed)
    for _ in range(10):
        value = sample(param, rng)
        assert from_text(param, value.text).typed == value.typed
        if param.range and dist != "choice" and not (param.zero_probability and value.typed == 0):
            assert param.range[0] <= value.typed <= param.range[1]


def test_zero_probability_is_for_numbers_only():
    import pytest
    from pydantic import ValidationError

    from hyperwatt.config import HyperParam

    with pytest.raises(ValidationError, match="only applies to int and float"):
        HyperParam(flag="--amp", type="bool", zero_probability=0.5)
