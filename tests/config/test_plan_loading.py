"""Plans and workloads from TOML: good input loads, bad input is one line naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperwatt.config import Registry, load_plan, load_registry
from hyperwatt.errors import ConfigError
from config_helpers import one_line_error


def _err(path: Path, registry: Registry | None = None) -> ConfigError:
    return one_line_error(load_plan, path, registry or Registry.builtin(), names=str(path))


def test_good_plan_loads_with_inline_workload_and_inherited_timing(write_plan):
    path = write_plan("""
        [[experiments]]
        workload = "toy/net"
        mutate = { parameters = ["lr"], mutations = 2 }
        timing = { retries = 4, cooldown = { max_s = 30 } }
        [[experiments]]
        workload = "toy/net"
    """)
    loaded = load_plan(path, Registry.builtin())
    a, b = loaded.plan.experiments
    assert a.timing.retries == 4 and a.timing.idle_baseline_s == 0  # plan timing, overridden key by key
    assert a.timing.cooldown.max_s == 30 and a.timing.cooldown.min_s == 0
    assert loaded.plan.timing_for(b).retries == 0
    assert loaded.workloads[0].workdir == path.parent.resolve()
    assert "[workloads" in loaded.resolved_toml() and len(loaded.plan_hash) == 16


@pytest.mark.parametrize("body, key, reason", [
    ('[[experiments]]\nworkload = "toy/net"\nmutat = { parameters = ["lr"] }', "experiments[0].mutat",
     "did you mean 'mutate'"),
    ('[[experiments]]\nworkload = "toy/nett"', "experiments[0].workload", "did you mean 'toy/net'"),
    ('[[experiments]]\nworkload = "toy/net"\nhyperparameters = { lrr = 0.1 }',
     "experiments[0].hyperparameters.lrr", "did you mean 'lr'"),
    ('[[experiments]]\nworkload = "toy/net"\nhyperparameters = { epochs = "many" }',
     "experiments[0].hyperparameters.epochs", "expected int"),
    ('[[experiments]]\nworkload = "toy/net"\nhyperparameters = { lr = nan }',
     "experiments[0].hyperparameters.lr", "finite"),
    ('[[experiments]]\nworkload = "toy/net"\nhyperparameters = { epochs = 100000000000000 }',
     "experiments[0].hyperparameters.epochs", "larger than"),
    ('[[experiments]]\nworkload = "toy/net"\nmutate = { parameters = ["name"] }',
     "experiments[0].mutate.parameters[0]", "no range"),
    ('[[experiments]]\nworkload = "toy/net"\nmutate = { parameters = ["lr"], strategy = "random" }',
     "experiments[0].mutate.strategy", "one_at_a_time"),
    ('[[experiments]]\nworkload = "toy/net"\nmode = "parallel"', "experiments[0]", "background"),
    ('[[experiments]]\nworkload = "../etc/passwd"', "experiments[0].workload", "repo/model"),
    ('[[experiments]]\nname = "a"\nworkload = "toy/net"\n[[experiments]]\nname = "a"\nworkload = "toy/net"',
     "experiments[1].name", "duplicate"),
    ('[[experiments]]\nname = "../x"\nworkload = "toy/net"', "experiments[0].name", "path separators"),
    ('[[experiments]]\nworkload = "toy/net"\ntiming = { retries = -1 }', "experiments[0].timing.retries",
     "greater than"),
])
def test_bad_plans_name_key_and_reason(write_plan, body, key, reason):
    path = write_plan(body)
    err = _err(path)
    assert err.key == key, str(err)
    assert reason in err.reason, str(err)


def test_unknown_top_level_key_suggests(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('sed = 1\n[[experiments]]\nworkload = "examples/mnist"\n')
    err = _err(path)
    assert err.key == "sed" and "did you mean 'seed'" in err.reason


def test_execution_table_and_the_older_top_level_executor(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[execution]\nexecutor = "ray"\nray_address = "head:6379"\n'
                    '[[experiments]]\nworkload = "examples/mnist"\n')
    execution = load_plan(path).plan.execution
    assert (execution.executor, execution.ray_address, execution.working_dir) == ("ray", "head:6379", None)
    path.write_text('executor = "local"\n[[experiments]]\nworkload = "examples/mnist"\n')  # plan.toml before [execution]
    assert load_plan(path).plan.execution.executor == "local"
    path.write_text('[execution]\nexecutor = "slurm"\n[[experiments]]\nworkload = "examples/mnist"\n')
    err = _err(path)
    assert err.key == "execution.executor" and "ray" in err.reason


def test_missing_file_and_bad_syntax(tmp_path):
    assert "file not found" in str(_err(tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    assert "invalid TOML" in str(_err(bad))
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert _err(empty).key == "experiments"


@pytest.mark.parametrize("table, key, reason", [
    ('argv = []', 'workloads."a/b".argv', "at least 1"),
    ('argv = ["x"]\nhyperparameters = { lr = { flag = "--lr", type = "float", range = [0, 1], '
     'distribution = "log_uniform" } }', 'workloads."a/b".hyperparameters.lr', "positive lower bound"),
    ('argv = ["x"]\nhyperparameters = { lr = { flag = "--lr", type = "float", range = [1, 0] } }',
     'workloads."a/b".hyperparameters.lr.range', "lower bound above"),
    ('argv = ["x"]\nhyperparameters = { o = { flag = "--o", type = "str", distribution = "choice" } }',
     'workloads."a/b".hyperparameters.o', "values"),
    ('argv = ["{pyhton}"]', 'workloads."a/b".argv', "unknown placeholder"),
    ('argv = ["x"]\nmetrics = { patterns = { acc = "no group" } }', 'workloads."a/b".metrics.patterns.acc.regex',
     "capturing group"),
    ('argv = ["x"]\nextends = "a/zzz"', 'workloads."a/b".extends', "unknown workload"),
    ('argv = ["x"]\nhyperparameters = { "bad name" = { flag = "-x", type = "int" } }',
     'workloads."a/b".hyperparameters', "identifier"),
])
def test_bad_workload_declarations(tmp_path, table, key, reason):
    path = tmp_path / "w.toml"
    path.write_text(f'[workloads."a/b"]\n{table}\n')
    with pytest.raises(ConfigError) as info:
        load_registry([path])
    assert info.value.key == key, str(info.value)
    assert reason in info.value.reason, str(info.value)


def test_extends_merges_hyperparameters_per_name(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text('''
[workloads."base/a"]
argv = ["{python}", "a.py"]
[workloads."base/a".hyperparameters]
lr = { flag = "--lr", type = "float", default = 0.1, range = [0.01, 1] }
bs = { flag = "--bs", type = "int", default = 8 }
[workloads."base/b"]
extends = "base/a"
argv = ["{python}", "b.py"]
hyperparameters = { lr = { default = 0.2 } }
''')
    reg = load_registry([path])
    b = reg.get("base/b")
    assert b.argv == ["{python}", "b.py"]
    assert b.hyperparameters["lr"].default == 0.2 and b.hyperparameters["lr"].range == (0.01, 1.0)
    assert b.hyperparameters["bs"].default == 8


def test_workload_name_with_unsafe_characters_is_rejected(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text('[workloads."a/../b"]\nargv = ["x"]\n')
    with pytest.raises(ConfigError, match="repo/model"):
        load_registry([path])


def test_plan_hash_survives_a_new_optional_key_but_not_a_real_change(tmp_path):
    """--resume finds a session started by an older hyperwatt: a key added since, at its default,
    must not change the plan's identity."""
    import dataclasses

    import pydantic

    path = tmp_path / "p.toml"
    path.write_text('name = "p"\n[[experiments]]\nworkload = "examples/mnist"\nhyperparameters = { epochs = 1 }\n')
    loaded = load_plan(path, Registry.builtin())
    newer_plan = pydantic.create_model("NewerPlan", __base__=type(loaded.plan), future_key=(int, 0))
    newer = dataclasses.replace(loaded, plan=newer_plan.model_validate(loaded.plan.model_dump()))
    assert newer.plan_hash == loaded.plan_hash
    path.write_text(path.read_text().replace("epochs = 1", "epochs = 2"))
    assert load_plan(path, Registry.builtin()).plan_hash != loaded.plan_hash


def test_a_value_outside_the_declared_values_is_a_plan_error_naming_the_choices(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[[experiments]]\nworkload = "examples/mnist"\nhyperparameters = { size = "huge" }\n')
    err = _err(path)
    assert err.key == "experiments[0].hyperparameters.size"
    assert "invalid choice 'huge'" in err.reason and "tiny, small, full" in err.reason
    path.write_text('[[experiments]]\nworkload = "examples/mnist"\nhyperparameters = { size = "smal" }\n')
    assert "did you mean 'small'?" in _err(path).reason
    path.write_text('[[experiments]]\nworkload = "examples/mnist"\nhyperparameters = { size = "tiny" }\n')
    assert load_plan(path).plan.experiments[0].hyperparameters["size"] == "tiny"


def test_declared_values_without_choice_are_allowed_values_that_never_mutate(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[[experiments]]\nworkload = "examples/mnist"\nmutate = { parameters = ["size"] }\n')
    err = _err(path)
    assert err.key == "experiments[0].mutate.parameters[0]" and "not \"choice\"" in err.reason
    assert "fix it in 'hyperparameters' instead" in err.reason


@pytest.mark.parametrize("param, reason", [
    ('{ flag = "--s", type = "str", default = "x", values = ["a", "b"] }', "invalid choice 'x'"),
    ('{ flag = "--n", type = "int", default = 2, range = [1, 3], values = [1, 2] }', "not both"),
    ('{ flag = "--n", type = "int", values = [] }', "'values' is empty"),
])
def test_inconsistent_values_declarations_are_workload_errors(tmp_path, param, reason):
    path = tmp_path / "w.toml"
    path.write_text(f'[workloads."a/b"]\nargv = ["x"]\n[workloads."a/b".hyperparameters]\np = {param}\n')
    err = one_line_error(load_registry, [path], names="w.toml")
    assert reason in str(err)


def test_every_problem_of_a_plan_is_reported_at_once_with_key_and_suggestion(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[[experiments]]\nworkload = "examples/mnist"\nrepeat = 3\nhyperparamters = { epochs = 2 }\n'
        'mutate = { parameters = ["learning_rat"] }\n'
        '[[experiments]]\nworkload = "examples/mnist"\nhyperparameters = { size = "huge", epochs = "x" }\n'
        '[[experiments]]\nworkload = "examples/mnsit"\n')
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    lines = str(info.value).splitlines()
    assert lines[0] == "6 problems:"
    expected = [
        ("experiments[0].repeat", "did you mean 'repeats'?"),
        ("experiments[0].hyperparamters", "did you mean 'hyperparameters'?"),
        ("experiments[0].mutate.parameters[0]", "did you mean 'learning_rate'?"),
        ("experiments[1].hyperparameters.size", "choose one of tiny, small, full"),
        ("experiments[1].hyperparameters.epochs", "its default is 10"),
        ("experiments[2].workload", "did you mean 'examples/mnist'?"),
    ]
    assert len(lines) == 1 + len(expected)
    for line, (key, hint) in zip(lines[1:], expected):
        assert line.startswith(f"  {path}: {key}: ") and hint in line, line


def test_one_problem_is_still_one_line(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[[experiments]]\nworkload = "examples/mnist"\nrepeat = 3\n')
    assert _err(path).key == "experiments[0].repeat"


def test_a_path_hyperparameter_must_name_an_existing_folder_before_anything_trains(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(f'[[experiments]]\nworkload = "examples/mnist"\nhyperparameters = {{ data_dir = "{tmp_path}/nope" }}\n')
    err = _err(path)
    assert err.key == "experiments[0].hyperparameters.data_dir" and "no such folder" in err.reason
    (tmp_path / "file").write_text("x")
    path.write_text(f'[[experiments]]\nworkload = "examples/mnist"\nhyperparameters = {{ data_dir = "{tmp_path}/file" }}\n')
    assert "a file, not a folder" in _err(path).reason
    path.write_text(f'[[experiments]]\nworkload = "examples/mnist"\nhyperparameters = {{ data_dir = "{tmp_path}" }}\n')
    assert load_plan(path).plan.experiments[0].hyperparameters["data_dir"] == str(tmp_path)


@pytest.mark.parametrize("value, ok", [(0, False), (-3, False), (1, True), (2, True)])
def test_a_value_below_the_declared_minimum_is_a_plan_error(tmp_path, value, ok):
    """The built-ins train at least one epoch: `epochs = 0` failed only once the training started."""
    path = tmp_path / "p.toml"
    path.write_text(f'[[experiments]]\nworkload = "examples/mnist"\nhyperparameters = {{ epochs = {value} }}\n')
    if ok:
        assert load_plan(path).plan.experiments[0].hyperparameters["epochs"] == value
    else:
        err = _err(path)
        assert err.key == "experiments[0].hyperparameters.epochs" and "least value the training accepts (1)" in err.reason


def test_a_range_below_the_minimum_is_a_workload_error(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text('[workloads."a/b"]\nargv = ["x"]\n[workloads."a/b".hyperparameters]\n'
                    'n = { flag = "--n", type = "int", default = 2, minimum = 1, range = [0, 3] }\n')
    assert "reaches below minimum 1" in str(one_line_error(load_registry, [path], names="w.toml"))
