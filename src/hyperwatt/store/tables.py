"""Flat tables of experiments: summary.csv (stable columns) and exports (csv, parquet, json)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Literal

import pandas as pd

from hyperwatt.errors import HyperwattError
from hyperwatt.records import ExperimentRecord
from hyperwatt.store.files import atomic_write_text

#: Fixed leading columns of summary.csv, in order; hp_* and metric_* columns follow, sorted.
SUMMARY_COLUMNS = [
    "experiment_id", "session_id", "slot", "workload", "mode", "label", "repeat_index", "status", "valid",
    "started_at", "duration_s", "attempts", "gpu_energy_j", "gpu_uncertainty_j", "gpu_net_energy_j",
    "cpu_energy_j", "cpu_uncertainty_j", "cpu_method", "dram_energy_j", "total_energy_j", "energy_partial",
    "mean_gpu_power_w", "background_workload", "background_runs", "background_effective", "coverage",
    "background_gpu_util_share", "stop_latency_s", "stop_delay_s", "fg_marginal_energy_j", "cooldown_s", "leaks", "flags",
    "key_hash",
]
ExportFormat = Literal["csv", "parquet", "json"]


def flatten(r: ExperimentRecord) -> dict[str, Any]:
    e = r.energy
    gpu_power = [s.mean_power_w for s in e.sensors if s.domain == "gpu" and s.mean_power_w is not None]
    bg = r.background
    row: dict[str, Any] = {
        "experiment_id": r.experiment_id, "session_id": r.session_id, "slot": r.slot, "workload": r.workload,
        "mode": r.mode, "label": r.label, "repeat_index": r.repeat_index, "status": r.status, "valid": r.valid,
        "started_at": _iso(r.started_wall), "duration_s": r.duration_s, "attempts": len(r.attempts),
        "gpu_energy_j": e.gpu_energy_j, "gpu_uncertainty_j": e.gpu_uncertainty_j,
        "gpu_net_energy_j": e.gpu_net_energy_j, "cpu_energy_j": e.cpu_energy_j,
        "cpu_uncertainty_j": e.cpu_uncertainty_j, "cpu_method": e.cpu_method, "dram_energy_j": e.dram_energy_j,
        "total_energy_j": e.total_energy_j, "energy_partial": e.partial,
        "mean_gpu_power_w": sum(gpu_power) if gpu_power else None,
        "background_workload": bg.workload if bg else None,
        "background_runs": len(bg.runs) if bg else None,
        "background_effective": bg.effective if bg else None,
        "coverage": bg.coverage if bg else None,
        "background_gpu_util_share": bg.gpu_util_share if bg else None,
        "stop_latency_s": bg.stop.latency_s if bg and bg.stop else None,
        "stop_delay_s": bg.stop.delay_s if bg and bg.stop else None,
        "fg_marginal_energy_j": e.attribution.foreground_marginal_energy_j if e.attribution else None,
        "cooldown_s": r.cooldown.duration_s if r.cooldown else None,
        "leaks": len(r.leaks),
        "flags": ";".join(f.code for f in r.flags),
        "key_hash": r.key_hash,
    }
    for k, v in sorted(r.hyperparameters.items()):
        row[f"hp_{k}"] = v
    for k, v in sorted(r.metrics.items()):
        row[f"metric_{k}"] = v
    return row


def _iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, tz=timezone.utc).isoformat(timespec="milliseconds")


def frame(records: Iterable[ExperimentRecord]) -> pd.DataFrame:
    rows = [flatten(r) for r in records]
    extra = sorted({k for row in rows for k in row} - set(SUMMARY_COLUMNS),
                   key=lambda k: (not k.startswith("hp_"), k))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS + extra)


def write_summary(path: Path, records: Iterable[ExperimentRecord]) -> None:
    """Regenerated from the store each time; never appended to."""
    buf = io.StringIO()
    frame(records).to_csv(buf, index=False)
    atomic_write_text(path, buf.getvalue())


def export(records: list[ExperimentRecord], fmt: ExportFormat, out: Path) -> Path:
    out = Path(out)
    try:
        return _export(records, fmt, out)
    except OSError as exc:
        raise HyperwattError(f"{out}: cannot write the export ({exc.strerror or exc}); pass --out "
                             "with a writable path") from None


def _export(records: list[ExperimentRecord], fmt: ExportFormat, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        # as experiment.json writes them: NaN and infinities as the strings "NaN", "Infinity" (plain JSON)
        atomic_write_text(out, json.dumps([json.loads(r.model_dump_json()) for r in records], indent=2) + "\n")
    elif fmt == "csv":
        write_summary(out, records)
    else:
        df = frame(records)
        for col in df.columns:  # parquet needs one type per column; hyperparameters may mix
            if df[col].dtype == object and df[col].map(type).nunique(dropna=True) > 1:
                df[col] = df[col].map(lambda v: None if v is None else str(v))
        tmp = out.with_name(f".{out.name}.tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(out)
    return out
