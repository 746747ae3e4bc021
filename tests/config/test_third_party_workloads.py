"""Declaring third-party trainings as they are: literal braces in argv, `--key=value` and Hydra-style
flags, hyperparameters read from environment variables or positional arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperwatt.config import load_registry
from hyperwatt.engine.command import build_argv, build_env
from hyperwatt.errors import ConfigError
from hyperwatt.mutation import resolve


def _workload(tmp_path: Path, table: str, name: str = "a/b"):
    path = tmp_path / "w.toml"
    path.write_text(f'[workloads."{name}"]\n{table}\n')
    return load_registry([path]).get(name)


def _error(tmp_path: Path, table: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        _workload(tmp_path, table)
    assert "\n" not in str(info.value) and "w.toml" in str(info.value)
    return info.value


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
