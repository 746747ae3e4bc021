"""energy/timeline.csv: every sensor sample of an experiment, one row each (and back, for replay)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Iterable

from hyperwatt.errors import ConfigError
from hyperwatt.sensors.records import Sample
from hyperwatt.store.files import atomic_write_text

COLUMNS = ("sensor", "t_mono", "t_wall", "power_w", "power_avg_w", "energy_j", "util_pct", "mem_used_mib",
           "temp_c", "sm_clock_mhz", "read_latency_s", "error")
_FLOATS = COLUMNS[1:-1]
#: columns later versions added: a file written before them reads with these empty
_OPTIONAL = ("read_latency_s",)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


def write_timeline_csv(path: str | Path, samples: Iterable[Sample]) -> int:
    """Write the samples (empty cell for None) atomically; returns the number of rows."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    rows = 0
    for s in samples:
        writer.writerow([_cell(getattr(s, c)) for c in COLUMNS])
        rows += 1
    atomic_write_text(Path(path), buf.getvalue())
    return rows


def read_timeline_csv(path: str | Path) -> list[Sample]:
    """The samples of a timeline file; a malformed file raises ConfigError naming line and column."""
    path = Path(path)
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read timeline: {exc.strerror or exc}") from None
    with fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or []) and c not in _OPTIONAL]
        if missing:
            raise ConfigError(path, "header", f"missing column(s): {', '.join(missing)}")
        out = []
        for row in reader:
            values: dict[str, object] = {}
            for col in _FLOATS:
                text = row.get(col) or ""
                try:
                    values[col] = float(text) if text else None
                except ValueError:
                    raise ConfigError(path, f"line {reader.line_num}: {col}", f"not a number: {text!r}") from None
            for col in ("t_mono", "t_wall"):
                if values[col] is None or not math.isfinite(values[col]):  # type: ignore[arg-type]
                    raise ConfigError(path, f"line {reader.line_num}: {col}", "a timestamp is required")
            out.append(Sample(sensor=row["sensor"], error=row["error"] or None, **values))  # type: ignore[arg-type]
        return out
