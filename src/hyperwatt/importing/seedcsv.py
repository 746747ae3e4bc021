"""Reading the seed system's results CSVs (`data/raw_data.csv`, `summary_all.csv`, `results/summary_*.csv`).

Every cell is kept as the text the seed wrote (an empty cell is missing); nothing is parsed here but
the shape: a header of the seed's columns, then rows of exactly as many fields. Anything else is one
`ConfigError` naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from hyperwatt.errors import ConfigError

#: Columns of a row's identity and outcome; the seed wrote them in every results CSV.
REQUIRED = ("experiment_id", "timestamp", "repository", "model", "training_success")
#: Columns without a family prefix that the seed wrote.
META = frozenset(REQUIRED) | {"duration_seconds", "retries", "experiment_source", "num_mutated_params",
                              "mutated_param", "mode", "error_message"}
#: Families of columns: hyperparameters, metrics, energy; `fg_` repeats them for a parallel foreground.
FAMILIES = ("hyperparam_", "perf_", "energy_")
#: The foreground's copy of a column (parallel rows) and the background's description.
FG_BASE = frozenset({"repository", "model", "duration_seconds", "training_success", "retries", "error_message"})
BG_COLUMNS = frozenset({"bg_repository", "bg_model", "bg_note", "bg_log_directory", "bg_hyperparameters"})
#: Largest results CSV read (the seed's 1,225-row raw_data.csv is about 0.5 MiB).
MAX_BYTES = 256 * 1024 * 1024
_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class SeedRow:
    line: int  # the row's first line in the file (the header is line 1)
    cells: dict[str, str]  # column -> text, empty cells left out


def known_column(name: str) -> bool:
    if name in META or name in BG_COLUMNS:
        return True
    base = name.removeprefix("fg_")
    if name.startswith("fg_") and base in FG_BASE:
        return True
    return any(base.startswith(f) and len(base) > len(f) for f in FAMILIES) and bool(_NAME.match(base))


def read_seed_csv(path: Path) -> tuple[list[str], list[SeedRow]]:
    """The header and rows of a seed results CSV; the file is only read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(path, None, f"is {size / 2**20:.0f} MiB; a seed results CSV is at most "
                              f"{MAX_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(path, f"line {line}", "is not UTF-8 text: not a seed results CSV") from None
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise ConfigError(path, f"line {line}", "holds a NUL byte: not a seed results CSV")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header or header == [""]:
            raise ConfigError(path, "line 1", "is empty: a seed results CSV starts with its header "
                              f"({', '.join(REQUIRED)}, ...)")
        _check_header(path, header)
        rows: list[SeedRow] = []
        start = reader.line_num + 1
        for fields in reader:
            line = start
            start = reader.line_num + 1
            if not fields or fields == [""]:
                continue  # a blank line
            if len(fields) != len(header):
                hint = " (is the file truncated?)" if len(fields) < len(header) else ""
                raise ConfigError(path, f"line {line}", f"has {len(fields)} fields, the header has "
                                  f"{len(header)}{hint}")
            rows.append(SeedRow(line, {k: v for k, v in zip(header, fields) if v != ""}))
    except csv.Error as exc:
        raise ConfigError(path, f"line {reader.line_num}", f"is not valid CSV ({exc})") from None
    return header, rows


def _check_header(path: Path, header: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ConfigError(path, "line 1", f"lacks the seed's column(s) {', '.join(missing)}: not a seed results "
                          "CSV (raw_data.csv, summary_all.csv or results/summary_*.csv)")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise ConfigError(path, "line 1", f"column {name!r} appears twice")
        seen.add(name)
    unknown = [c for c in header if not known_column(c)]
    if unknown:
        raise ConfigError(path, "line 1", f"unknown column(s) {', '.join(map(repr, unknown[:5]))}"
                          f"{' ...' if len(unknown) > 5 else ''}: not the seed's results format")
