"""The CPU frequency governor (the seed's `governor` setting): set where permitted, always restored."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

CPUFREQ_ROOT = Path("/sys/devices/system/cpu")


@dataclass
class GovernorChange:
    requested: str
    previous: dict[Path, str] = field(default_factory=dict)  # scaling_governor file -> old value
    applied: bool = False
    reason: str = ""


def _governor_files(root: Path) -> list[Path]:
    return sorted(root.glob("cpu[0-9]*/cpufreq/scaling_governor"))


def apply(name: str, root: Path = CPUFREQ_ROOT) -> GovernorChange:
    """Set every CPU's governor to `name`; on any refusal undo what was done and say why."""
    change = GovernorChange(requested=name)
    files = _governor_files(root)
    if not files:
        change.reason = f"no cpufreq governors under {root} (virtual machine or container?)"
        return change
    for path in files:
        try:
            available = (path.parent / "scaling_available_governors").read_text().split()
            if available and name not in available:
                change.reason = f"governor {name!r} not offered by {path.parent} (offers: {', '.join(available)})"
                break
            old = path.read_text().strip()
            if old != name:
                path.write_text(name)
                change.previous[path] = old
        except PermissionError:
            change.reason = f"permission denied writing {path}: run as root to set the governor"
            break
        except OSError as exc:
            change.reason = f"cannot set {path}: {exc.strerror or exc}"
            break
    else:
        change.applied = True
        return change
    restore(change)
    return change


def restore(change: GovernorChange) -> list[str]:
    """Put back every governor that was changed; returns the problems met."""
    problems = []
    for path, old in change.previous.items():
        try:
            path.write_text(old)
        except OSError as exc:
            problems.append(f"could not restore {path} to {old!r}: {exc.strerror or exc}")
    change.previous.clear()
    return problems


@contextmanager
def governed(name: str | None, warn: Callable[[str], None], root: Path = CPUFREQ_ROOT) -> Iterator[GovernorChange | None]:
    """Apply for the duration of a session (no-op for None); restored on exit, interrupt included."""
    if name is None:
        yield None
        return
    change = apply(name, root)
    if not change.applied:
        warn(f"CPU governor not set to {name!r}: {change.reason}; running with the current governor")
    try:
        yield change
    finally:
        for problem in restore(change):
            warn(problem)
