"""Declaring third-party trainings as they are: literal braces in argv, `--key=value` and Hydra-style
flags, hyperparameters read from environment variables or positional arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperwatt.config import load_registry
from hyperwatt.engine.command import build_argv, build_env
from hyperwatt.errors import ConfigError
from config_helpers import one_line_error
from hyperwatt.mutation import resolve


def _workload(tmp_path: Path, table: str, name: str = "a/b"):
    path = tmp_path / "w.toml"
    path.write_text(f'[workloads."{name}"]\n{table}\n')
    return load_registry([path]).get(name)


def _error(tmp_path: Path, table: str) -> ConfigError:
    return one_line_error(_workload, tmp_path, table, names="w.toml")


def test_doubled_braces_are_literal_braces_in_argv(tmp_path):
    w = _workload(tmp_path, 'argv = ["{python}", "train.py", "--cfg", \'{{"layers": [2, 2]}}\']')
    assert build_argv(resolve(w, {}), python="/py") == ["/py", "train.py", "--cfg", '{"layers": [2, 2]}']


@pytest.mark.parametrize("arg, reason", [
    ('{"layers": 2}', 'unknown placeholder {"layers": 2}'),
    ("{python!r}", "unknown placeholder {python!r}"),
    ("{python:>9}", "unknown placeholder {python:>9}"),
    ("{}", "unknown placeholder {}"),
    ("a}", "unmatched brace"),   # was an internal error (str.format) at `hyperwatt plan`
    ("{", "unmatched brace"),
])
def test_bad_braces_in_argv_are_one_line_errors_naming_the_escape(tmp_path, arg, reason):
    err = _error(tmp_path, f"argv = ['x', '{arg}']")
    assert err.key == 'workloads."a/b".argv'
    assert reason in err.reason and "write {{ and }} for a literal brace" in err.reason


def _setting(tmp_path: Path, params: str, fixed: dict | None = None, pass_defaults: bool = True):
    w = _workload(tmp_path, f'argv = ["{{python}}", "-m", "trainer.main"]\npass_defaults = {str(pass_defaults).lower()}\n'
                            f'[workloads."a/b".hyperparameters]\n{params}')
    return resolve(w, fixed or {})


def test_a_flag_ending_in_equals_is_joined_to_its_value(tmp_path):
    # nanoGPT's configurator takes only --key=value; Hydra takes key=value
    s = _setting(tmp_path, '''
lr = { flag = "--learning_rate=", type = "float", default = 6e-4 }
epochs = { flag = "trainer.max_epochs=", type = "int", default = 3 }
compile = { flag = "--compile=", type = "bool", default = false, bool_style = "value" }
amp = { flag = "--amp", type = "bool", default = true }
''')
    assert build_argv(s, python="py")[3:] == ["--learning_rate=0.0006", "trainer.max_epochs=3", "--compile=false",
                                              "--amp"]


def test_positional_hyperparameters_come_first_in_declaration_order_and_are_always_passed(tmp_path):
    params = '''
bs = { flag = "--bs", type = "int", default = 8 }
epochs = { positional = true, type = "int", default = 2 }
lr = { positional = true, type = "float", default = 0.1 }
'''
    s = _setting(tmp_path, params, {"lr": 0.05}, pass_defaults=False)
    # pass_defaults = false leaves out --bs, but never a positional: `0.05` alone would be read as EPOCHS
    assert build_argv(s, python="py") == ["py", "-m", "trainer.main", "2", "0.05"]
    assert s.args() == {"epochs": "2", "lr": "0.05"}
    s = _setting(tmp_path, params, {"bs": 4}, pass_defaults=True)
    assert build_argv(s, python="py")[3:] == ["2", "0.1", "--bs", "4"]


def test_env_hyperparameters_reach_the_environment_not_argv(tmp_path):
    s = _setting(tmp_path, '''
batch_size = { env = "BATCH_SIZE", type = "int", default = 32 }
amp = { env = "USE_AMP", type = "bool", default = true }
det = { env = "DETERMINISTIC", type = "bool", default = false }
opt = { env = "OPTIMIZER", type = "str", default = "adam", bool_style = "value" }
''', {"batch_size": 64})
    assert build_argv(s, python="py") == ["py", "-m", "trainer.main"]
    env = build_env(s, Path("/m.jsonl"), None, base={"BATCH_SIZE": "1", "PATH": "/bin"})
    assert env["BATCH_SIZE"] == "64" and env["USE_AMP"] == "1" and env["OPTIMIZER"] == "adam"
    assert "DETERMINISTIC" not in env  # a false switch is left unset
    assert env["PATH"] == "/bin" and env["HYPERWATT_METRICS_FILE"] == "/m.jsonl"


def test_env_hyperparameter_wins_over_the_workloads_env(tmp_path):
    w = _workload(tmp_path, 'argv = ["x"]\nenv = { LR = "9", OMP_NUM_THREADS = "1" }\n'
                            'hyperparameters = { lr = { env = "LR", type = "float", default = 0.5 } }')
    env = build_env(resolve(w, {}), None, None, base={})
    assert env["LR"] == "0.5" and env["OMP_NUM_THREADS"] == "1"


@pytest.mark.parametrize("param, reason", [
    ('{ type = "float" }', "give exactly one of 'flag'"),
    ('{ flag = "--lr", env = "LR", type = "float" }', "it has flag and env"),
    ('{ flag = "--lr", positional = true, type = "float", default = 1 }', "it has flag and positional"),
    ('{ positional = true, type = "float" }', "needs a default"),
    ('{ env = "1LR", type = "float" }', "environment variable name"),
    ('{ env = "CUDA_VISIBLE_DEVICES", type = "str" }', "set by hyperwatt"),
    ('{ env = "HYPERWATT_METRICS_FILE", type = "str" }', "set by hyperwatt"),
    ('{ flag = "--amp=", type = "bool" }', 'set bool_style = "value"'),
    ('{ flag = "=", type = "int" }', "names nothing"),
])
def test_bad_passing_declarations(tmp_path, param, reason):
    err = _error(tmp_path, f'argv = ["x"]\nhyperparameters = {{ lr = {param} }}')
    assert err.key.startswith('workloads."a/b".hyperparameters.lr'), str(err)
    assert reason in err.reason, str(err)


def test_extends_can_change_how_a_hyperparameter_is_passed(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text('''
[workloads."lab/base"]
argv = ["x"]
hyperparameters = { lr = { flag = "--lr", type = "float", default = 0.1, range = [0.01, 1] } }
[workloads."lab/env"]
extends = "lab/base"
hyperparameters = { lr = { env = "LR" } }
''')
    lr = load_registry([path]).get("lab/env").hyperparameters["lr"]
    assert lr.env == "LR" and lr.flag is None and lr.range == (0.01, 1.0) and lr.default == 0.1


def test_a_required_metric_nothing_can_provide_is_refused_before_any_training(tmp_path):
    # file = false and a typo between `required` and the pattern's name: every attempt would train to
    # the end and then fail with "required metrics missing"
    err = _error(tmp_path, 'argv = ["x"]\n[workloads."a/b".metrics]\nfile = false\nrequired = ["test_acc"]\n'
                           'patterns = { test_accuracy = "acc ([0-9.]+)" }')
    assert err.key == 'workloads."a/b".metrics'
    assert "required metric 'test_acc' can never be found" in err.reason
    assert "(did you mean 'test_accuracy'?)" in err.reason


def test_a_required_metric_may_come_from_the_metrics_file_or_a_pattern(tmp_path):
    w = _workload(tmp_path, 'argv = ["x"]\nmetrics = { required = ["acc"] }')  # file = true: the script emits it
    assert w.metrics.required == ["acc"]
    w = _workload(tmp_path, 'argv = ["x"]\nmetrics = { file = false, required = ["acc"], patterns = { acc = "a ([0-9]+)" } }')
    assert w.metrics.required == ["acc"]


@pytest.mark.parametrize("table, key, reason", [
    # a misspelt required key: pydantic says the real one is missing first; the typo is the news
    ('metrics = { patterns = { acc = { regexp = "a ([0-9]+)" } } }', 'metrics.patterns.acc.regexp',
     "unknown key (did you mean 'regex'?); known keys: match, regex, scale"),
    ('hyperparameters = { lr = { flag = "--lr", typ = "float" } }', "hyperparameters.lr.typ",
     "unknown key (did you mean 'type'?)"),
    ('hyperparameters = { lr = { flg = "--lr", type = "float" } }', "hyperparameters.lr.flg",
     "unknown key (did you mean 'flag'?)"),
    # `extends` is a key of the table; `name` and `source` are not
    ('extend = "examples/mnist"', "extend", "unknown key (did you mean 'extends'?)"),
])
def test_typos_are_named_with_a_suggestion(tmp_path, table, key, reason):
    err = _error(tmp_path, f'argv = ["x"]\n{table}')
    assert err.key == f'workloads."a/b".{key}' and reason in err.reason, str(err)
    if "known keys: argv" in err.reason:
        known = err.reason.split("known keys: ")[1].split(", ")
        assert "extends" in known and "name" not in known and "source" not in known


def test_a_plan_typo_lists_workloads_among_the_known_keys(tmp_path):
    from hyperwatt.config import Registry, load_plan

    path = tmp_path / "plan.toml"
    path.write_text('[[experiments]]\nworkload = "examples/mnist"\n[workload."a/b"]\nargv = ["x"]\n')
    with pytest.raises(ConfigError) as info:
        load_plan(path, Registry.builtin())
    assert info.value.key == "workload" and "(did you mean 'workloads'?)" in info.value.reason
    assert "workloads" in info.value.reason.split("known keys: ")[1].split(", ")
