"""Expected wall time of planned experiments: this session's median, else history, else estimates."""

from __future__ import annotations

from statistics import median
from typing import Callable, Sequence

from hyperwatt.mutation import PlannedExperiment


def overhead_s(pe: PlannedExperiment) -> float:
    """Idle baseline and minimum cooldown, spent around every experiment, and in parallel mode
    the background's start-up before the readiness gate opens."""
    background = pe.background.workload.estimated_startup_s if pe.background is not None else 0.0
    return pe.timing.idle_baseline_s + pe.timing.cooldown.min_s + background


def estimate_s(pe: PlannedExperiment, history: Callable[[str], Sequence[float]]) -> float | None:
    past = history(pe.workload.name)
    if past:
        return median(past) + overhead_s(pe)
    if pe.workload.estimated_duration_s is not None:
        return declared_s(pe) + overhead_s(pe)
    return None


def declared_s(pe: PlannedExperiment) -> float:
    """The workload's declared duration, its part above `estimated_startup_s` scaled by the
    experiment's value of the workload's scale parameter (`epochs` by default) against its default,
    where both are numbers."""
    w = pe.workload
    assert w.estimated_duration_s is not None
    startup = min(w.estimated_startup_s, w.estimated_duration_s)
    name = w.scale_parameter
    param = w.hyperparameters.get(name) if name else None
    value = pe.foreground.values.get(name) if name else None
    default = param.default if param is not None else None
    if (isinstance(default, (int, float)) and not isinstance(default, bool) and default > 0 and value is not None
            and isinstance(value.typed, (int, float)) and not isinstance(value.typed, bool)):
        return startup + (w.estimated_duration_s - startup) * value.typed / default
    return w.estimated_duration_s


def remaining_s(pending: Sequence[PlannedExperiment], done_s: Sequence[float],
                history: Callable[[str], Sequence[float]]) -> float | None:
    """From the median of completed experiments once there are some, else per-experiment estimates."""
    if not pending:
        return 0.0
    if done_s:
        return median(done_s) * len(pending)
    parts = [estimate_s(pe, history) for pe in pending]
    if any(p is None for p in parts):
        return None
    return sum(p for p in parts if p is not None)
