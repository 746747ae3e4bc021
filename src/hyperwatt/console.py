"""The command's output layer: rich tables on a terminal, plain unwrapped lines for pipes, JSON for scripts.

On a terminal: rich tables, colours (none when `NO_COLOR` is set, as rich honours it) and live progress.
Anywhere else (a pipe, a file, a CI log): one line per row or event, never wrapped or cut at any
width, no control codes; a table is tab-separated (a title line, a header line, one line per row),
so `grep`, `cut -f` and `column -t -s$'\\t'` work on it. `--json` writes one JSON object instead.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text


@dataclass
class Column:
    header: str
    #: never wrapped or cut on a terminal either (ids users copy)
    no_wrap: bool = False


@dataclass
class Output:
    """Where the command writes. `console` renders for a terminal; `stream` receives plain lines."""

    console: Console = field(default_factory=Console)
    stream: TextIO | None = None

    @property
    def terminal(self) -> bool:
        return self.console.is_terminal

    def _plain(self, text: str) -> None:
        stream = self.stream or self.console.file
        stream.write(text + "\n")
        stream.flush()

    def line(self, text: str, style: str | None = None) -> None:
        """One line of text, printed as is (no markup, no wrapping: a terminal wraps it itself)."""
        if self.terminal:
            self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)
        else:
            self._plain(text)

    def lines(self, text: str) -> None:
        """Text of several lines (a report), each as `line` prints it."""
        for part in text.splitlines():
            self.line(part)

    def table(self, title: str, columns: Sequence[Column | str], rows: Sequence[Sequence[str]],
              caption: str | None = None, row_styles: Sequence[str | None] = ()) -> None:
        """A table; on a terminal each row may have a style (`row_styles`, colours ignored under NO_COLOR)."""
        cols = [c if isinstance(c, Column) else Column(c) for c in columns]
        if not self.terminal:
            self._plain(_flat(title))
            self._plain("\t".join(_flat(c.header) for c in cols))
            for row in rows:
                self._plain("\t".join(_flat(cell) for cell in row))
            if caption:
                self._plain(_flat(caption))
            return
        table = Table(title=title, caption=caption, show_lines=any("\n" in cell for row in rows for cell in row))
        for c in cols:
            if c.no_wrap:
                table.add_column(c.header, no_wrap=True, min_width=len(max(
                    (row[cols.index(c)] for row in rows), key=len, default="")))
            else:
                table.add_column(c.header, overflow="fold")
        for i, row in enumerate(rows):
            table.add_row(*(Text(cell) for cell in row), style=row_styles[i] if i < len(row_styles) else None)
        self.console.print(table)

    def json(self, obj: Any) -> None:
        """One JSON document, indented on a terminal, one line otherwise."""
        text = json.dumps(obj, indent=2 if self.terminal else None, ensure_ascii=False, default=str)
        self._plain(text)


def _flat(cell: str) -> str:
    """A cell on one line: line breaks become '; ', tabs spaces (the separator stays unambiguous)."""
    return "; ".join(part for part in str(cell).splitlines()).replace("\t", " ")


def make_output() -> Output:
    """The process's output: rich decides whether stdout is a terminal (and honours NO_COLOR,
    TERM=dumb and FORCE_COLOR); plain lines go to the real stdout."""
    return Output(Console(), None)


def stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
