"""Shared by the config tests: a loader call must fail with one line that names the file."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from hyperwatt.errors import ConfigError


def one_line_error(load: Callable[..., Any], *args: Any, names: str) -> ConfigError:
    """The ConfigError `load(*args)` raises; its text is one line and contains `names`."""
    with pytest.raises(ConfigError) as info:
        load(*args)
    assert "\n" not in str(info.value) and names in str(info.value)
    return info.value


def each_problem_one_line(err: ConfigError) -> None:
    """A ConfigError holds one problem or several (ConfigProblems): each is one non-empty line."""
    problems = getattr(err, "problems", [err])
    assert problems and all(len(str(p).splitlines()) == 1 for p in problems), repr(str(err))
    assert str(err).count("\n") == (0 if len(problems) == 1 else len(problems))
