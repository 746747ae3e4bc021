"""The seed's run folders (`results/run_YYYYMMDD_HHMMSS/<experiment>/experiment.json`) as rows of its
results CSV, so one mapping serves both. Numbers keep the text the seed's JSON wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hyperwatt.errors import ConfigError
from hyperwatt.importing.seedcsv import SeedRow

#: experiment.json's energy_metrics keys -> the results CSV's columns (the seed's session.py mapping)
ENERGY_KEYS = {
    "cpu_energy_pkg_joules": "energy_cpu_pkg_joules", "cpu_energy_ram_joules": "energy_cpu_ram_joules",
    "cpu_energy_total_joules": "energy_cpu_total_joules", "gpu_power_avg_watts": "energy_gpu_avg_watts",
    "gpu_power_max_watts": "energy_gpu_max_watts", "gpu_power_min_watts": "energy_gpu_min_watts",
    "gpu_energy_total_joules": "energy_gpu_total_joules", "gpu_temp_avg_celsius": "energy_gpu_temp_avg_celsius",
    "gpu_temp_max_celsius": "energy_gpu_temp_max_celsius", "gpu_util_avg_percent": "energy_gpu_util_avg_percent",
    "gpu_util_max_percent": "energy_gpu_util_max_percent",
}
MAX_JSON_BYTES = 16 * 1024 * 1024


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*/experiment.json"))


def run_folders(path: Path) -> list[Path]:
    """`path` itself when it is a run folder, else its `run_*` folders (a seed `results/` folder)."""
    if is_run_folder(path):
        return [path]
    found = sorted(p for p in path.glob("run_*") if is_run_folder(p))
    if not found:
        raise ConfigError(path, None, "is a folder with no */experiment.json and no run_*/ folders: not a seed "
                          "run folder or results folder")
    return found


def read_run_folder(folder: Path) -> list[SeedRow]:
    """One row per experiment.json, in experiment-id order; `line` is 0 (not a CSV)."""
    rows = []
    for path in sorted(folder.glob("*/experiment.json")):
        rows.append(SeedRow(0, experiment_cells(path)))
    return rows


def experiment_cells(path: Path) -> dict[str, str]:
    try:
        raw = path.read_bytes()[: MAX_JSON_BYTES + 1]
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_JSON_BYTES:
        raise ConfigError(path, None, f"is larger than {MAX_JSON_BYTES // 2**20} MiB: not a seed experiment.json")
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_float=str, parse_int=str,
                          parse_constant=lambda c: c)
    except (UnicodeDecodeError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        raise ConfigError(path, f"line {line}" if line else None, f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "experiment_id" not in data:
        raise ConfigError(path, "experiment_id", "missing: not a seed experiment.json")
    cells: dict[str, str] = {"experiment_id": _text(data["experiment_id"]), "timestamp": _text(data.get("timestamp"))}
    if data.get("mode") == "parallel" or isinstance(data.get("foreground"), dict):
        cells["mode"] = "parallel"
        fg = data.get("foreground")
        bg = data.get("background") or {}
        if not isinstance(fg, dict) or not isinstance(bg, dict):
            raise ConfigError(path, "foreground", "a parallel experiment.json holds foreground and background objects")
        _side(fg, cells, path, "foreground")
        for key, column in (("repository", "bg_repository"), ("model", "bg_model"), ("note", "bg_note"),
                            ("log_directory", "bg_log_directory")):
            if bg.get(key) not in (None, ""):
                cells[column] = _text(bg[key])
        if bg.get("hyperparameters"):
            cells["bg_hyperparameters"] = json.dumps(bg["hyperparameters"], sort_keys=True)
    else:
        _side(data, cells, path, "")
    return {k: v for k, v in cells.items() if v != ""}


def _side(obj: dict[str, Any], cells: dict[str, str], path: Path, where: str) -> None:
    for key in ("repository", "model", "duration_seconds", "training_success", "retries", "error_message"):
        if obj.get(key) is not None:
            cells[key] = _text(obj[key])
    for field, prefix, names in (("hyperparameters", "hyperparam_", None), ("performance_metrics", "perf_", None),
                                 ("energy_metrics", "energy_", ENERGY_KEYS)):
        values = obj.get(field) or {}
        if not isinstance(values, dict):
            raise ConfigError(path, f"{where}.{field}" if where else field, "must be an object")
        for key, value in values.items():
            if value is None:
                continue
            column = names.get(key, f"energy_{key}") if names else f"{prefix}{key}"
            cells[column] = _text(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return value if isinstance(value, str) else json.dumps(value)
