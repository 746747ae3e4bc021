"""Words for people: counted nouns, and the commands hints print (each works when pasted)."""

from __future__ import annotations

import shlex
import signal
from pathlib import Path
from typing import Iterable

#: Where the store and session folders live unless `-o/--results-dir` says otherwise.
DEFAULT_RESULTS_DIR = Path("results")


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 experiment`, `2 experiments`, `0 experiments` (`nouns` for an irregular plural)."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"


def command(*args: str, results_dir: Path | str | None = None, workloads: Iterable[Path | str] = ()) -> str:
    """`hyperwatt ARGS` as a shell line, with the `-o` and `-W` options the user gave (quoted where needed)."""
    words = ["hyperwatt", *args]
    for w in workloads:
        words += ["-W", str(w)]
    if results_dir is not None and Path(results_dir) != DEFAULT_RESULTS_DIR:
        words += ["-o", str(results_dir)]
    return shlex.join(words)


def exit_status(code: int | None) -> str:
    """`exit code 1`, or for a death by signal `killed by signal SIGSEGV (exit code -11)`."""
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name} (exit code {code})"
        except ValueError:
            return f"killed by signal {-code} (exit code {code})"
    return f"exit code {code}"
