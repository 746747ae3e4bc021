"""Fixtures for process tests: tiny Python "trainings" written to tmp_path, and leak checks."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hyperwatt.process import kill_tagged, leak_scan, new_token


@pytest.fixture
def token() -> Iterator[str]:
    """A fresh token; the test fails if a process carrying it survives the test."""
    tok = new_token("test")
    yield tok
    leaks = leak_scan([tok])
    kill_tagged(tok, grace_s=0.1)
    assert leaks == [], f"processes leaked: {leaks}"


@pytest.fixture
def script(tmp_path: Path) -> Callable[[str, str], list[str]]:
    """write(name, body) -> argv running that Python source."""

    def write(name: str, body: str) -> list[str]:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(body))
        return [sys.executable, str(path)]

    return write
