"""Per-attempt limits: the training's timeout (`timing.timeout_s`, "auto" by default) and log size."""

from __future__ import annotations

from hyperwatt.engine.eta import declared_s
from hyperwatt.mutation import PlannedExperiment

#: "auto": this many times the workload's estimated duration (scaled by its epochs)...
AUTO_TIMEOUT_FACTOR = 4.0
#: ...but never less than this, so a busy machine or a slow first data load does not trip it.
AUTO_TIMEOUT_MIN_S = 1800.0


def attempt_timeout_s(pe: PlannedExperiment) -> float | None:
    """Seconds one foreground attempt may run; None for no limit ("none", or "auto" for a workload
    that declares no `estimated_duration_s`)."""
    value = pe.timing.timeout_s
    if value is None or value == "none":
        return None
    if value == "auto":
        if pe.workload.estimated_duration_s is None:
            return None
        return max(AUTO_TIMEOUT_MIN_S, AUTO_TIMEOUT_FACTOR * declared_s(pe))
    return float(value)


def max_log_bytes(pe: PlannedExperiment) -> int | None:
    """The cap on one attempt's stored log (None: no cap)."""
    mib = pe.timing.max_log_mib
    return None if mib is None else max(4096, int(mib * 2**20))
