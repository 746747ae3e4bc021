"""Reading a training's metrics: the metrics file first, then the workload's regexes on its log."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hyperwatt import metricsfile
from hyperwatt.config import MetricsSpec

#: Only the tail of very large logs is scanned for regex metrics.
MAX_LOG_SCAN_BYTES = 64 * 2**20


@dataclass
class MetricsResult:
    values: dict[str, float] = field(default_factory=dict)
    matches: dict[str, int] = field(default_factory=dict)  # regex metric -> number of matches in the log
    problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def collect(spec: MetricsSpec, metrics_file: Path | None, log: Path) -> MetricsResult:
    result = MetricsResult()
    if spec.file and metrics_file is not None:
        values, problems = metricsfile.read(metrics_file)
        result.values.update(values)
        result.problems += [f"{metrics_file.name} {p}" for p in problems]
    if spec.patterns:
        text = _tail(log)
        for name, pattern in spec.patterns.items():
            found = []
            for m in re.finditer(pattern.regex, text, flags=re.MULTILINE):
                try:
                    found.append(float(m.group(1)) * pattern.scale)
                except (TypeError, ValueError):
                    result.problems.append(f"{name}: matched {m.group(0)!r} but {m.group(1)!r} is not a number")
            result.matches[name] = len(found)
            if found and name not in result.values:
                pick = {"first": found[0], "last": found[-1], "max": max(found), "min": min(found)}
                result.values[name] = pick[pattern.match]
    result.missing = [m for m in spec.required if m not in result.values]
    return result


def _tail(log: Path) -> str:
    try:
        with log.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - MAX_LOG_SCAN_BYTES))
            return fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
