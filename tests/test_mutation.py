"""Plan expansion: reproducible, unique by typed canonical key, defaults excluded, mode in the key."""

from __future__ import annotations

import json

from hyperwatt.config import LoadedPlan, Registry, load_plan
from hyperwatt.mutation import canonical_key, expand, resolve


def _expand(write_plan, body):
    return expand(load_plan(write_plan(body), Registry.builtin()))


def test_expansion_is_reproducible_and_changes_with_seed(write_plan):
    body = """
        [[experiments]]
        workload = "toy/net"
        mutate = { parameters = ["lr", "epochs"], strategy = "joint", mutations = 4 }
    """
    a = [p.key for p in _expand(write_plan, body).experiments]
    b = [p.key for p in _expand(write_plan, body).experiments]
    assert a == b and len(set(a)) == 4
    loaded = load_plan(write_plan(body), Registry.builtin())
    reseeded = LoadedPlan(plan=loaded.plan.model_copy(update={"seed": 8}), registry=loaded.registry,
                          source=loaded.source)
    assert set(p.key for p in expand(reseeded).experiments).isdisjoint(a)


def test_one_at_a_time_changes_only_one_parameter_and_never_the_default_set(write_plan):
    exp = _expand(write_plan, """
        [[experiments]]
        workload = "toy/net"
        include_default = true
        mutate = { parameters = ["lr", "epochs"], mutations = 5 }
    """)
    default = exp.experiments[0]
    assert default.label == "default"
    base = default.foreground.typed()
    for pe in exp.experiments[1:]:
        changed = {k for k, v in pe.foreground.typed().items() if v != base[k]}
        assert changed == set(pe.mutated) and len(changed) == 1
    keys = [pe.key for pe in exp.experiments]
    assert len(keys) == len(set(keys)) == 11


def test_small_space_is_exhausted_with_a_warning(write_plan):
    exp = _expand(write_plan, """
        [[experiments]]
        workload = "toy/net"
        mutate = { parameters = ["epochs"], mutations = 10 }
    """)
    assert len(exp.experiments) == 5  # epochs in [1, 6] minus the default 2
    assert "only 5 distinct" in exp.warnings[0]


def test_canonical_key_is_typed_and_includes_mode(write_plan):
    loaded = load_plan(write_plan('[[experiments]]\nworkload = "toy/net"'), Registry.builtin())
    w = loaded.registry.get("toy/net")
    a = resolve(w, {"lr": 0.1})
    b = resolve(w, {"lr": "0.1"})      # the same value given as text
    c = resolve(w, {"lr": 0.10000001})
    assert canonical_key("sequential", a, None) == canonical_key("sequential", b, None)
    assert canonical_key("sequential", a, None) != canonical_key("sequential", c, None)
    assert canonical_key("sequential", a, None) != canonical_key("parallel", a, None)
    assert canonical_key("parallel", a, a) != canonical_key("parallel", a, None)
    hp = json.loads(canonical_key("sequential", a, None))["foreground"]["hyperparameters"]
    assert hp["epochs"] == ["int", 2] and hp["lr"] == ["float", "0.1"] and hp["name"] == ["str", "x"]


def test_defaults_are_part_of_the_key(write_plan):
    loaded = load_plan(write_plan('[[experiments]]\nworkload = "toy/net"'), Registry.builtin())
    w = loaded.registry.get("toy/net")
    assert canonical_key("sequential", resolve(w, {}), None) == canonical_key("sequential", resolve(w, {"epochs": 2}), None)
