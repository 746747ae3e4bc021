"""Flat tables of experiments: summary.csv (stable columns) and exports (csv, parquet, json)."""

from __future__ import annotations

import io
import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Literal

from hyperwatt.errors import HyperwattError
from hyperwatt.records import ExperimentRecord
from hyperwatt.store.files import atomic_write_text
from hyperwatt.verify import verdicts
from hyperwatt.verify.verdicts import as_bool

if TYPE_CHECKING:  # pandas is imported where a table is built or read: status, plan and list never need it
    import pandas as pd

#: Fixed leading columns of summary.csv, in order; hp_* and metric_* columns follow, sorted.
SUMMARY_COLUMNS = [
    "experiment_id", "session_id", "slot", "workload", "mode", "label", "repeat_index", "status", "valid",
    "started_at", "duration_s", "attempts", "gpu_energy_j", "gpu_uncertainty_j", "gpu_net_energy_j",
    "gpu_method", "cpu_energy_j", "cpu_uncertainty_j", "cpu_method", "dram_energy_j", "total_energy_j", "energy_partial",
    "mean_gpu_power_w", "background_workload", "background_runs", "background_effective", "coverage",
    "background_gpu_util_share", "stop_latency_s", "stop_delay_s", "fg_marginal_energy_j", "cooldown_s", "leaks", "flags",
    "key_hash", "measured", "covered", "stopped_promptly", "fg_marginal_uncertainty_j", "fg_marginal_verdict",
    "background_alone_power_w", "fg_util_share_energy_j",
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
    a = e.attribution
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
        "background_effective": as_bool(verdicts.background_effective(r)),
        "coverage": bg.coverage if bg else None,
        "background_gpu_util_share": bg.gpu_util_share if bg else None,
        "stop_latency_s": bg.stop.latency_s if bg and bg.stop else None,
        "stop_delay_s": bg.stop.delay_s if bg and bg.stop else None,
        "fg_marginal_energy_j": a.foreground_marginal_energy_j if a else None,
        "cooldown_s": r.cooldown.duration_s if r.cooldown else None,
        "leaks": len(r.leaks),
        "flags": ";".join(f.code for f in r.flags) or None,
        "key_hash": r.key_hash,
        # verify/verdicts.py: empty where the experiment answered nothing (interrupted, never started)
        "measured": verdicts.window_measured(r),
        "covered": as_bool(verdicts.covered(r)),
        "stopped_promptly": as_bool(verdicts.stopped_promptly(r)),
        "fg_marginal_uncertainty_j": a.foreground_marginal_uncertainty_j if a else None,
        "fg_marginal_verdict": a.foreground_marginal_verdict if a else None,
        "background_alone_power_w": a.background_alone_power_w if a else None,
        "fg_util_share_energy_j": a.foreground_util_share_energy_j if a else None,
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
    """One row per experiment, each column typed by its values: integers as nullable Int64 (a gap
    does not turn 64 into 64.0), booleans as nullable booleans, numbers as floats, text as text."""
    import pandas as pd

    rows = [flatten(r) for r in records]
    seed = [c for c in SEED_COLUMNS if any(c in row for row in rows)]
    extra = sorted({k for row in rows for k in row} - set(SUMMARY_COLUMNS) - set(SEED_COLUMNS),
                   key=lambda k: (not k.startswith("hp_"), k))
    columns = SUMMARY_COLUMNS + seed + extra
    return pd.DataFrame({c: _column([row.get(c) for row in rows]) for c in columns}, columns=columns)


def _column(values: list[Any]) -> pd.Series:
    import pandas as pd

    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    kinds = {_kind(v) for v in present}
    if kinds == {"bool"}:
        return pd.Series(values, dtype="boolean")
    if kinds == {"int"}:
        return pd.Series(values, dtype="Int64")
    if kinds and kinds <= {"int", "float"}:
        return pd.Series([None if v is None else float(v) for v in values], dtype="float64")
    if kinds == {"str"}:
        return pd.Series(values, dtype="object")
    # a column mixing kinds (e.g. a hyperparameter given as 1 in one run and "auto" in another): as text
    return pd.Series([None if v is None else _text(v) for v in values], dtype="object")


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "str" if isinstance(v, str) else "other"


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def write_summary(path: Path, records: Iterable[ExperimentRecord]) -> None:
    """Regenerated from the store each time; never appended to."""
    _write_csv(path, frame(records))


def _write_csv(path: Path, df: pd.DataFrame) -> None:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    atomic_write_text(path, buf.getvalue())


def export(records: list[ExperimentRecord], fmt: ExportFormat, out: Path) -> Path:
    out = Path(out)
    try:
        if fmt == "json":
            out.parent.mkdir(parents=True, exist_ok=True)
            # as experiment.json writes them: NaN and infinities as the strings "NaN", "Infinity" (plain JSON)
            atomic_write_text(out, json.dumps([json.loads(r.model_dump_json()) for r in records], indent=2) + "\n")
            return out
        return write_frame(frame(records), fmt, out)
    except OSError as exc:
        raise HyperwattError(f"{out}: cannot write the export ({exc.strerror or exc}); pass --out "
                             "with a writable path") from None


def write_frame(df: pd.DataFrame, fmt: Literal["csv", "parquet"], out: Path) -> Path:
    """A table (from `frame` or `read_export`) as csv or parquet; the same table gives the same file."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        _write_csv(out, df)
        return out
    tmp = out.with_name(f".{out.name}.tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(out)
    return out


def read_export(path: Path) -> pd.DataFrame | list[ExperimentRecord]:
    """An export read back with its types: a json export as records; a csv or parquet export as the
    table `frame` made (integers Int64, booleans nullable, numbers float64, empty cells missing)."""
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix == ".json":
            return [ExperimentRecord.model_validate(item) for item in json.loads(path.read_text(encoding="utf-8"))]
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
            for col in df.columns:  # text as `frame` holds it: Python strings, None for a gap
                if pd.api.types.is_string_dtype(df[col]) and not isinstance(df[col].dtype, pd.BooleanDtype):
                    df[col] = pd.Series([None if pd.isna(x) else x for x in df[col]], dtype="object")
            return df
        text = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise HyperwattError(f"{path}: cannot read the export ({exc})") from None
    return pd.DataFrame({c: _parsed(text[c].tolist()) for c in text.columns}, columns=list(text.columns))


_INT = re.compile(r"^[+-]?\d+$")


def _parsed(cells: list[str]) -> pd.Series:
    import pandas as pd

    present = [c for c in cells if c != ""]
    values: list[Any] = [None if c == "" else c for c in cells]
    if present and all(c in ("True", "False") for c in present):
        return pd.Series([None if v is None else v == "True" for v in values], dtype="boolean")
    if present and all(_INT.match(c) for c in present):
        return pd.Series([None if v is None else int(v) for v in values], dtype="Int64")
    try:
        floats = [None if v is None else float(v) for v in values]
    except ValueError:
        return pd.Series(values, dtype="object")
    return pd.Series(floats, dtype="float64") if present else pd.Series(values, dtype="object")
