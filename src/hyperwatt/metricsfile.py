"""The metrics-file protocol shared by the runner and the workloads.

A workload appends JSON objects, one per line, to the file named by the environment variable
``HYPERWATT_METRICS_FILE``. Each object maps metric names to numbers; a later value of a name
replaces an earlier one. Keys ``epoch`` and ``step`` are progress markers, not metrics.
This module imports nothing from hyperwatt so workloads may use it freely.

A line with an ``event`` key is an event, not metrics. ``{"event": "phase", "phase": "train",
"epoch": 1, "samples": 60000, "t": 1700000000.25}`` says that from wall time ``t`` (Unix seconds)
the training is in phase ``phase`` (``startup``, ``train``, ``evaluation``, ``teardown`` or a name
of its own) until the next phase event or its exit; ``epoch`` and ``samples`` (training samples the
phase processes) are optional. `phase()` writes one; the runner slices the energy there.

`python -m hyperwatt.metricsfile FILE...` appends the numbers of files a training wrote itself
(a JSON object such as HF Trainer's all_results.json, a JSON list of objects, JSON lines, or a CSV
such as Lightning's CSVLogger metrics.csv, one record per row) to the metrics file; see
docs/configuration.md.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_VAR = "HYPERWATT_METRICS_FILE"
PROGRESS_KEYS = frozenset({"epoch", "step"})
EVENT_KEY = "event"
PHASE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class PhaseEvent:
    """From `t_wall` on, the training is in `phase` (and `epoch`, processing `samples`)."""

    phase: str
    t_wall: float
    epoch: int | None = None
    samples: int | None = None


def emit(**values: Any) -> None:
    """Append one record to the metrics file, if the runner gave one; no-op otherwise."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    record = {k: _plain(v) for k, v in values.items()}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, allow_nan=True) + "\n")
        fh.flush()


def phase(name: str, epoch: int | None = None, samples: int | None = None) -> None:
    """Mark that the training enters phase `name` now (see the module docstring); no-op without a file."""
    record: dict[str, Any] = {EVENT_KEY: "phase", "phase": name}
    if epoch is not None:
        record["epoch"] = int(epoch)
    if samples is not None:
        record["samples"] = int(samples)
    record["t"] = time.time()
    emit(**record)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        value = value.item()
    return value


def read(path: str | Path) -> tuple[dict[str, float], list[str]]:
    """Final metric values (last one wins) and a list of problems found while reading.

    Nothing a training writes raises here: malformed lines and non-numeric values are reported
    and skipped; NaN, infinities and numbers beyond a float's range (an integer of 400 digits
    reads as Infinity) are kept and reported."""
    metrics: dict[str, float] = {}
    problems: list[str] = []
    p = Path(path)
    if not p.is_file():
        return metrics, problems
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            record = loads(line)
            if record is None:
                problems.append(f"line {lineno}: not JSON")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {lineno}: not a JSON object")
                continue
            if EVENT_KEY in record:  # events (phase markers) are read by read_phases
                continue
            for key, value in record.items():
                if key in PROGRESS_KEYS:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    problems.append(f"line {lineno}: {key} is not a number")
                    continue
                number = float(value)
                if not math.isfinite(number):
                    problems.append(f"line {lineno}: {key} {not_finite(value)}")
                metrics[str(key)] = number
    return metrics, problems


class _Huge(float):
    """An integer literal beyond a float's range, read as +-Infinity (and said so)."""


#: Integer literals longer than this are read as floats (1e300 still fits a float; Python refuses
#: int() of over 4,300 digits and float() of an int over 1.8e308)
_MAX_INT_DIGITS = 300


def _parse_int(text: str) -> int | float:
    if len(text) <= _MAX_INT_DIGITS:
        return int(text)
    number = float(text)
    return _Huge(number) if math.isinf(number) else number


def loads(text: str) -> Any:
    """JSON as a training may write it (NaN, Infinity and integers of any length accepted);
    None when it is not JSON at all, however deep or long."""
    try:
        return json.loads(text, parse_int=_parse_int)
    except (ValueError, RecursionError):
        return None


def not_finite(value: float) -> str:
    """How a non-finite metric is described and kept: 'is NaN (kept as NaN)' and the like."""
    kept = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    said = "a number beyond a float's range" if isinstance(value, _Huge) else kept
    return f"is {said} (kept as {kept})"


def read_phases(path: str | Path) -> tuple[list[PhaseEvent], list[str]]:
    """The phase events of a metrics file in file order, and the problems of malformed ones."""
    events: list[PhaseEvent] = []
    problems: list[str] = []
    p = Path(path)
    if not p.is_file():
        return events, problems
    with p.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            record = loads(line) if line.strip() else None  # read() reports what is not JSON
            if not isinstance(record, dict) or record.get(EVENT_KEY) != "phase":
                continue
            event, problem = _phase_event(record)
            if event is not None:
                events.append(event)
            else:
                problems.append(f"line {lineno}: phase event ignored: {problem}")
    return events, problems


def _phase_event(record: dict[str, Any]) -> tuple[PhaseEvent | None, str]:
    name, t = record.get("phase"), record.get("t")
    if not isinstance(name, str) or not PHASE_NAME.match(name):
        return None, f"'phase' must be a name (letters, digits, '_', '-'), got {name!r}"
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
        return None, f"'t' must be the wall time in Unix seconds, got {t!r}"
    counts: dict[str, int | None] = {}
    for key in ("epoch", "samples"):
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return None, f"'{key}' must be a whole number >= 0, got {value!r}"
        counts[key] = value
    return PhaseEvent(name, float(t), counts["epoch"], counts["samples"]), ""


def records_from(path: str | Path) -> list[dict[str, float]]:
    """The numeric entries of a results file a training wrote, as metric records in file order.

    `.csv`/`.tsv`: one record per row (empty and non-numeric cells left out); `.jsonl`: one per
    line; anything else is JSON: an object is one record, a list of objects one record each.
    Raises OSError or ValueError with a message that names the problem."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    suffix = p.suffix.lower()
    if suffix in (".csv", ".tsv"):
        try:
            rows: list[Any] = list(csv.DictReader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ","))
        except csv.Error as exc:  # a field over the csv module's limit, a NUL byte (3.10)
            raise ValueError(f"is not a readable table: {exc}") from None
    elif suffix == ".jsonl":
        rows = [_loads_strict(line) for line in text.splitlines() if line.strip()]
    else:
        data = _loads_strict(text)
        rows = data if isinstance(data, list) else [data]
    records = []
    for row in rows:
        if not isinstance(row, dict):
            raise ValueError("holds something other than objects (one record per object or row)")
        record = {str(k): n for k, v in row.items() if k is not None and (n := _number(v)) is not None}
        if record:
            records.append(record)
    return records


def nested_numbers(path: str | Path) -> list[str]:
    """Dotted names (`final.acc`) of the numbers a JSON results file holds inside nested objects,
    which `records_from` leaves out; [] for a file that is not JSON or holds none."""
    p = Path(path)
    if p.suffix.lower() in (".csv", ".tsv", ".jsonl"):
        return []
    try:
        data = _loads_strict(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    todo: list[tuple[str, Any]] = [("", row) for row in (data if isinstance(data, list) else [data])]
    names: list[str] = []
    while todo:
        prefix, obj = todo.pop(0)
        if not isinstance(obj, dict):
            continue
        for key, value in obj.items():
            if isinstance(value, dict):
                todo.append((f"{prefix}{key}.", value))
            elif prefix and _number(value) is not None and f"{prefix}{key}" not in names:
                names.append(f"{prefix}{key}")
    return names


def _loads_strict(text: str) -> Any:
    """JSON as `loads` reads it; ValueError (the decoder's message) when it is not JSON."""
    try:
        return json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise ValueError("is nested too deeply to read") from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            return None
    return None


def main(argv: list[str] | None = None) -> int:
    """Append the records of each FILE to $HYPERWATT_METRICS_FILE (printed when it is unset)."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths or paths[0] in ("-h", "--help"):
        print("usage: python -m hyperwatt.metricsfile FILE...  (JSON, JSON lines, CSV or TSV)", file=sys.stderr)
        return 2
    target = os.environ.get(ENV_VAR)
    lines = []
    for path in paths:
        try:
            records = records_from(path)
        except FileNotFoundError:
            print(f"hyperwatt.metricsfile: {path}: file not found", file=sys.stderr)
            return 1
        except (OSError, ValueError) as exc:  # json.JSONDecodeError, csv.Error are ValueErrors too
            print(f"hyperwatt.metricsfile: {path}: {exc}", file=sys.stderr)
            return 1
        lines += [json.dumps(r, allow_nan=True) for r in records]
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in lines)
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
