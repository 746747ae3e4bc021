"""Expected wall time of planned experiments: this session's median, else history, else estimates."""

from __future__ import annotations

from statistics import median
from typing import Callable, Sequence

from hyperwatt.mutation import PlannedExperiment


def overhead_s(pe: PlannedExperiment) -> float:
    """Idle baseline and minimum cooldown, spent around every experiment."""
    return pe.timing.idle_baseline_s + pe.timing.cooldown.min_s


def estimate_s(pe: PlannedExperiment, history: Callable[[str], Sequence[float]]) -> float | None:
    past = history(pe.workload.name)
    if past:
        return median(past) + overhead_s(pe)
    if pe.workload.estimated_duration_s is not None:
        return pe.workload.estimated_duration_s + overhead_s(pe)
    return None


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
