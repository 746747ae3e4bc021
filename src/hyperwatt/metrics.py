"""Reading a training's metrics: the metrics file first, then the workload's regexes on its log."""

from __future__ import annotations

import glob
import math
import os
import re
import stat
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from hyperwatt import logscan, metricsfile
from hyperwatt.config import MetricsSpec

#: Only the tail of very large logs is scanned for regex metrics.
MAX_LOG_SCAN_BYTES = 64 * 2**20
#: Terminal control sequences (colours, cursor moves) some loggers write even into a file.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


@dataclass
class MetricsResult:
    values: dict[str, float] = field(default_factory=dict)
    matches: dict[str, int] = field(default_factory=dict)  # regex metric -> number of matches in the log
    problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def collect(spec: MetricsSpec, metrics_file: Path | None, log: Path, results_files: ResultsFiles | None = None
            ) -> MetricsResult:
    """The metrics file first, then the training's own results files, then the log's patterns:
    a name already found is not overwritten by a later source."""
    result = MetricsResult()
    if spec.file and metrics_file is not None:
        values, problems = metricsfile.read(metrics_file)
        result.values.update(values)
        result.problems += [f"{metrics_file.name} {p}" for p in problems]
    if spec.files and results_files is not None:
        values, problems = results_files.read(spec.files)
        result.values.update({k: v for k, v in values.items() if k not in result.values})
        result.problems += problems
    if spec.patterns:
        scanned, problem = logscan.scan_with_deadline({n: p.regex for n, p in spec.patterns.items()}, _tail(log))
        if problem:
            result.problems.append(problem)
        for name, pattern in spec.patterns.items():
            found = []
            for matched, number in scanned.get(name, []):
                try:
                    found.append(scaled(number, pattern.scale))  # type: ignore[arg-type]  # None: caught below
                except (TypeError, ValueError, ArithmeticError):
                    result.problems.append(f"{name}: matched {matched!r} but {number!r} is not a number")
            result.matches[name] = len(found)
            if found and name not in result.values:
                pick = {"first": found[0], "last": found[-1], "max": max(found), "min": min(found)}
                result.values[name] = pick[pattern.match]
                if not math.isfinite(result.values[name]):
                    result.problems.append(f"{name}: the log's value {metricsfile.not_finite(result.values[name])}")
    result.missing = [m for m in spec.required if m not in result.values]
    return result


def scaled(number: str, scale: float) -> float:
    """The logged number times `scale`, as the decimal a person would write: "95.5" × 0.01 is
    0.955, not 0.9550000000000001 (the product is taken in decimal, then converted once)."""
    value = float(number)
    if scale == 1.0 or not math.isfinite(value):
        return value * scale
    return float(Decimal(number.strip()) * Decimal(repr(scale)))


@dataclass
class ResultsFiles:
    """Where an attempt's own results files are: `metrics.files` entries are relative to `workdir`
    with `fields` filled in; only files written since `since_wall` count (no earlier run's)."""

    workdir: Path
    fields: dict[str, str]
    since_wall: float

    def read(self, patterns: list[str]) -> tuple[dict[str, float], list[str]]:
        values: dict[str, float] = {}
        problems: list[str] = []
        escaped = {k: glob.escape(v) for k, v in self.fields.items()}  # a "[1]" in a path is no wildcard
        for pattern in patterns:
            text = pattern.format_map(self.fields)
            where = os.path.join(glob.escape(str(self.workdir)), pattern.format_map(escaped))
            dated = [(m, Path(p)) for p in glob.glob(where, recursive=True) if (m := _mtime(Path(p))) is not None]
            fresh = [p for m, p in sorted(dated) if m >= self.since_wall - 1.0]  # oldest first: the newest wins
            if not fresh:
                stale = f" ({len(dated)} older than the attempt)" if dated else ""
                problems.append(f"results file {text!r}: none written by this attempt{stale}")
            for path in fresh:
                try:
                    records = metricsfile.records_from(path)
                except (OSError, ValueError) as exc:
                    problems.append(f"results file {path}: {exc}")
                    continue
                for record in records:
                    values.update(record)
                nested = metricsfile.nested_numbers(path)
                if nested:  # `{"final": {"acc": 0.9}}`: why a required `acc` went missing
                    shown = ", ".join(nested[:5]) + (f" (+{len(nested) - 5} more)" if len(nested) > 5 else "")
                    problems.append(f"results file {path}: numbers inside nested objects are not read "
                                    f"(only top-level entries are metrics): {shown}")
                problems += [f"results file {path}: {k} {metricsfile.not_finite(v)}"
                             for record in records for k, v in record.items() if not math.isfinite(v)]
        return values, problems


def _mtime(path: Path) -> float | None:
    """A regular file's modification time; None for anything else or a file gone meanwhile."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime if stat.S_ISREG(st.st_mode) else None


def _tail(log: Path) -> str:
    """The end of the log as text as a terminal shows it: every line break a newline, no colour codes.

    Progress bars (tqdm, Lightning, Keras) redraw a line with a carriage return: each redraw is a
    line of its own here, as on a terminal, so `^` and `$` in a pattern work after and before them
    (and `$` before a Windows-style "\\r\\n"). Colour and cursor sequences (a coloured rich table,
    loguru) are removed, so a pattern matches the text one sees."""
    try:
        with log.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - MAX_LOG_SCAN_BYTES))
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
