"""Reading an experiment's power timeline (`energy/timeline.csv`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hyperwatt.records import ExperimentRecord
from hyperwatt.store import SessionLayout

#: Columns the plots need; the others (util, memory, temperature, clocks) are optional.
REQUIRED = ("sensor", "t_mono", "t_wall", "power_w")
NUMERIC = ("t_mono", "t_wall", "power_w", "power_avg_w", "energy_j", "util_pct", "mem_used_mib", "temp_c",
           "sm_clock_mhz")


def timeline_path(results_dir: Path, record: ExperimentRecord) -> Path:
    exp_dir = SessionLayout(results_dir, record.session_id).experiment(record.experiment_id)
    return exp_dir.dir / record.energy.timeline if record.energy.timeline else exp_dir.timeline


def read_timeline(path: Path) -> pd.DataFrame | None:
    """Readable samples (no error, a power reading), sorted by time; None if absent, unreadable or empty."""
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError):  # pandas' parser errors are ValueErrors
        return None
    if any(c not in df.columns for c in REQUIRED):
        return None
    for col in NUMERIC:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    ok = df["power_w"].notna() & df["t_mono"].notna()
    if "error" in df.columns:
        ok &= df["error"].isna() | (df["error"].astype(str).str.strip() == "")
    df = df[ok].sort_values("t_mono")
    df["sensor"] = df["sensor"].astype(str)
    return df if len(df) else None
