"""builtin.toml: every built-in workload is declared completely and agrees with its module."""

from __future__ import annotations

import importlib
import importlib.util
import math

import pytest
from workload_helpers import NAMES, builtin_tables

TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool}
DISTRIBUTIONS = {"uniform", "log_uniform", "choice"}
#: Flags every workload module accepts.
COMMON_FLAGS = {"--epochs", "--learning-rate", "--batch-size", "--seed", "--weight-decay", "--dropout", "--size",
                "--device", "--data-dir"}
DEFAULT_FIELDS = ("epochs", "learning_rate", "batch_size", "seed", "weight_decay", "dropout")


def test_the_thirteen_workloads_are_declared_under_their_seed_names() -> None:
    assert sorted(builtin_tables()) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_argv_launches_an_existing_module(name: str) -> None:
    argv = builtin_tables()[name]["argv"]
    assert argv[:2] == ["{python}", "-m"]
    assert importlib.util.find_spec(argv[2]) is not None
    assert "workdir" not in builtin_tables()[name]


@pytest.mark.parametrize("name", NAMES)
def test_hyperparameters_are_well_formed(name: str) -> None:
    params = builtin_tables()[name]["hyperparameters"]
    assert {"epochs", "learning_rate", "batch_size", "seed", "size", "device"} <= set(params)
    for key, p in params.items():
        assert p["flag"] in COMMON_FLAGS, key
        assert p["type"] in TYPES, key
        if "default" in p:
            assert isinstance(p["default"], TYPES[p["type"]]) and not isinstance(p["default"], bool), key
        if "range" not in p:
            assert "distribution" not in p or p["distribution"] == "choice", key
            continue
        lo, hi = p["range"]
        assert p["distribution"] in DISTRIBUTIONS and lo < hi, key
        if p["distribution"] == "log_uniform":
            assert lo > 0, key
        # A zero default means "off" (VulBERTa's weight decay); a log-uniform range cannot hold it.
        if p["default"] != 0:
            assert lo <= p["default"] <= hi, key


def test_size_is_never_mutated_and_declares_the_sizes_the_modules_accept() -> None:
    from hyperwatt.config import Registry
    from hyperwatt.workloads._common import SIZES

    for name, table in builtin_tables().items():
        size = table["hyperparameters"]["size"]
        assert "range" not in size and size.get("distribution", "uniform") != "choice", name
        assert size["values"] == list(SIZES) and size["default"] == "small", name
        assert not Registry.builtin().get(name).hyperparameters["size"].mutable, name


@pytest.mark.parametrize("name", NAMES)
def test_metrics_are_declared_with_goals_and_log_patterns(name: str) -> None:
    metrics = builtin_tables()[name]["metrics"]
    assert metrics["required"]
    assert set(metrics["required"]) == set(metrics["patterns"])
    assert set(metrics["goals"]) <= set(metrics["required"])
    assert set(metrics["goals"].values()) <= {"max", "min"}


@pytest.mark.parametrize("name", NAMES)
def test_declared_defaults_match_the_module_defaults(name: str) -> None:
    table = builtin_tables()[name]
    defaults = importlib.import_module(table["argv"][2]).DEFAULTS
    for field in DEFAULT_FIELDS:
        declared = table["hyperparameters"].get(field, {}).get("default")
        if declared is not None:
            assert math.isclose(getattr(defaults, field), declared), (name, field)


def test_the_registry_loads_the_declarations() -> None:
    from hyperwatt.config import Registry

    registry = Registry.builtin()
    assert sorted(registry.names()) == sorted(NAMES)
    pcb = registry.get("Person_reID/pcb")
    assert pcb.argv[-2:] == ["--arch", "pcb"] and pcb.hyperparameters["dropout"].default == 0.5
