"""The metrics-file protocol shared by the runner and the workloads.

A workload appends JSON objects, one per line, to the file named by the environment variable
``HYPERWATT_METRICS_FILE``. Each object maps metric names to numbers; a later value of a name
replaces an earlier one. Keys ``epoch`` and ``step`` are progress markers, not metrics.
This module imports nothing from hyperwatt so workloads may use it freely.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

ENV_VAR = "HYPERWATT_METRICS_FILE"
PROGRESS_KEYS = frozenset({"epoch", "step"})


def emit(**values: Any) -> None:
    """Append one record to the metrics file, if the runner gave one; no-op otherwise."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    record = {k: _plain(v) for k, v in values.items()}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, allow_nan=True) + "\n")
        fh.flush()


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        value = value.item()
    return value


def read(path: str | Path) -> tuple[dict[str, float], list[str]]:
    """Final metric values (last one wins) and a list of problems found while reading.

    Malformed lines, non-numeric and non-finite values are reported, never raised.
    """
    metrics: dict[str, float] = {}
    problems: list[str] = []
    p = Path(path)
    if not p.exists():
        return metrics, problems
    with p.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"line {lineno}: not JSON")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {lineno}: not a JSON object")
                continue
            for key, value in record.items():
                if key in PROGRESS_KEYS:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    problems.append(f"line {lineno}: {key} is not a number")
                    continue
                if not math.isfinite(value):
                    problems.append(f"line {lineno}: {key} is {value}")
                metrics[str(key)] = float(value)
    return metrics, problems
