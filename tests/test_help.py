"""Help that helps: every command and option explained in words, an example on every command's --help."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from hyperwatt.cli import app

COMMAND = typer.main.get_command(app)
NAMES = sorted(getattr(COMMAND, "commands", {}))  # a click Group (typer vendors click)
TYPE_WORDS = re.compile(r"\b(TEXT|INTEGER|FLOAT|PATH|BOOLEAN|LIST|OPTIONAL|List\[|Optional\[)")


def test_every_command_and_option_has_a_one_line_help_in_words():
    assert {"list", "plan", "run", "resume", "mutate", "status", "export", "verify", "report", "doctor"} <= set(NAMES)
    for name in NAMES:
        cmd = COMMAND.commands[name]  # type: ignore[attr-defined]
        assert (cmd.help or "").strip(), f"{name}: no help"
        assert "Example: hyperwatt " + name in (cmd.epilog or ""), f"{name}: no example"
        for param in cmd.params:
            text = (getattr(param, "help", None) or "").strip()
            assert text, f"{name} {param.name}: no help"
            assert "\n" not in text, f"{name} {param.name}: help is more than one line"
            if not getattr(param, "is_flag", False):
                assert param.metavar and not TYPE_WORDS.search(param.metavar), f"{name} {param.name}: {param.metavar}"


@pytest.mark.parametrize("name", NAMES)
def test_help_shows_the_example_and_no_python_types(name):
    shown = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "Example: hyperwatt " + name in shown.output
    assert not TYPE_WORDS.search(shown.output), shown.output
