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
    "gpu_method", "cpu_energy_j", "cpu_uncertainty_j", "cpu_method", "dram_energy_j", "total_energy_j", "energy_partial",
    "mean_gpu_power_w", "background_workload", "background_runs", "background_effective", "coverage",
    "background_gpu_util_share", "stop_latency_s", "stop_delay_s", "fg_marginal_energy_j", "cooldown_s", "leaks", "flags",
    "key_hash",
]
#: Extra columns of an imported experiment: the seed's identity of the row, so exports join its files.
SEED_COLUMNS = ["seed_experiment_id", "seed_timestamp", "seed_repository", "seed_model", "seed_source"]
#: Our column <- the seed's column, for values exported with the seed's own text.
_SEED_TEXT = {"gpu_energy_j": "energy_gpu_total_joules", "cpu_energy_j": "energy_cpu_pkg_joules",
              "dram_energy_j": "energy_cpu_ram_joules", "mean_gpu_power_w": "energy_gpu_avg_watts",
              "duration_s": "duration_seconds"}
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
        "gpu_net_energy_j": e.gpu_net_energy_j, "gpu_method": e.gpu_method, "cpu_energy_j": e.cpu_energy_j,
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
    if r.imported is not None:
        _seed_values(r, row)
    return row


def _seed_values(r: ExperimentRecord, row: dict[str, Any]) -> None:
    """An imported row: the seed's identity, and each value the seed wrote in its own text wherever
    the number's shortest form would read differently (so an export returns the seed's digits)."""
    imp = r.imported
    assert imp is not None
    row.update(seed_experiment_id=imp.seed_experiment_id, seed_timestamp=imp.seed_timestamp,
               seed_repository=imp.seed_repository, seed_model=imp.seed_model, seed_source=imp.source)
    cols = imp.columns
    text = dict(_SEED_TEXT.items())
    text.update({f"hp_{k}": f"hyperparam_{k}" for k in r.hyperparameters})
    text.update({f"metric_{k}": f"perf_{k}" for k in r.metrics})
    for ours, theirs in text.items():
        source = cols.get(f"fg_{theirs}", cols.get(theirs))
        if source is not None and row.get(ours) is not None and _shortest(row[ours]) != source:
            row[ours] = source


def _shortest(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, tz=timezone.utc).isoformat(timespec="milliseconds")


def frame(records: Iterable[ExperimentRecord]) -> pd.DataFrame:
    """One row per record. Columns hold their values as given (object dtype): an integer column with
    gaps stays integers, not floats written as `10.0`."""
    rows = [flatten(r) for r in records]
    seed = [c for c in SEED_COLUMNS if any(c in row for row in rows)]
    extra = sorted({k for row in rows for k in row} - set(SUMMARY_COLUMNS) - set(SEED_COLUMNS),
                   key=lambda k: (not k.startswith("hp_"), k))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS + seed + extra, dtype=object)


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
            kinds = set(df[col].dropna().map(type))
            if kinds == {int, float}:
                df[col] = df[col].map(lambda v: None if v is None else float(v))
            elif len(kinds) > 1:
                df[col] = df[col].map(lambda v: None if v is None else str(v))
        tmp = out.with_name(f".{out.name}.tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(out)
    return out
