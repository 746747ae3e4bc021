"""User-facing errors: each renders as one line naming the file, the key and the reason."""

from __future__ import annotations

import unicodedata
from pathlib import Path

#: Characters `str.splitlines` breaks a line at, besides "\n" (which becomes a space).
_LINE_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def one_line(text: str) -> str:
    """`text` as one printable line: newlines become spaces; every other line break or control
    character (a hostile key in a plan, an escape sequence) is written as its escape, e.g. \\x1e."""
    text = text.replace("\n", " ")
    if not any(c in _LINE_BREAKS or unicodedata.category(c) == "Cc" for c in text):
        return text
    return "".join(
        c if c == "\t" or (c not in _LINE_BREAKS and unicodedata.category(c) != "Cc") else repr(c)[1:-1] for c in text
    )


class HyperwattError(Exception):
    """An error the user can act on. The CLI prints `str(err)` and exits with `exit_code`."""

    exit_code = 1


class ConfigError(HyperwattError):
    """Bad configuration or usage: exits with status 2 and writes nothing."""

    exit_code = 2

    def __init__(self, source: str | Path | None, key: str | None, reason: str) -> None:
        self.source = str(source) if source is not None else None
        self.key = key
        self.reason = reason
        super().__init__(self._render())

    def _render(self) -> str:
        where = ": ".join(part for part in (self.source, self.key) if part)  # an option has no file
        return one_line(f"{where}: {self.reason}" if where else self.reason)


class ConfigProblems(ConfigError):
    """Every problem found in one input at once (a plan with three typos takes one round, not three):
    one line each; a single problem renders exactly as its ConfigError."""

    def __init__(self, problems: list[ConfigError]) -> None:
        if not problems:
            raise ValueError("ConfigProblems needs at least one problem")
        self.problems = list(problems)
        first = problems[0]
        super().__init__(first.source, first.key, first.reason)

    def _render(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [str(p) for p in self.problems]
        return f"{len(lines)} problems:\n" + "\n".join(f"  {line}" for line in lines)

    @classmethod
    def raise_if_any(cls, problems: list[ConfigError]) -> None:
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise cls(problems)


class StoreError(HyperwattError):
    """The results store cannot be opened, read or written: corrupt, foreign, read-only, locked."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(one_line(f"{path}: {reason}"))


class PreflightError(HyperwattError):
    """The environment cannot run the plan (disk, permissions, busy GPU); nothing was started."""

    exit_code = 3


class DiskFullError(StoreError):
    """The file system holding the results is full. What was recorded before stays; the message
    names the file system and what was kept."""
