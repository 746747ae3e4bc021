"""User-facing errors: each renders as one line naming the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path


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
        where = self.source or "<input>"
        if self.key:
            where += f": {self.key}"
        return f"{where}: {self.reason}".replace("\n", " ")


class StoreError(HyperwattError):
    """The results store cannot be opened, read or written: corrupt, foreign, read-only, locked."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}".replace("\n", " "))


class PreflightError(HyperwattError):
    """The environment cannot run the plan (disk, permissions, busy GPU); nothing was started."""

    exit_code = 3


class DiskFullError(StoreError):
    """The file system holding the results is full. What was recorded before stays; the message
    names the file system and what was kept."""
