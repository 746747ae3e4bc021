"""Coverage: how much of the foreground's window an effective background run was live."""

from __future__ import annotations

from typing import Iterable


def effective_intervals(runs: Iterable[tuple[float, float | None, bool]], window_end: float,
                        startup_s: float) -> list[tuple[float, float]]:
    """Intervals (start + start-up, end) of the runs that loaded the GPU.

    Each run is (start, end or None while live, effective). Ineffective runs and each run's
    start-up phase count as no load; a live run lasts until `window_end`.
    """
    out = []
    for start, end, effective in runs:
        if not effective:
            continue
        lo = start + startup_s
        hi = window_end if end is None else end
        if hi > lo:
            out.append((lo, hi))
    return out


def coverage(window: tuple[float, float], intervals: Iterable[tuple[float, float]]) -> float:
    """Time-weighted share of `window` covered by the union of `intervals` (0..1)."""
    t0, t1 = window
    if t1 <= t0:
        return 0.0
    clipped = sorted((max(a, t0), min(b, t1)) for a, b in intervals if b > t0 and a < t1)
    covered = 0.0
    cur_lo = cur_hi = 0.0
    started = False
    for a, b in clipped:
        if not started or a > cur_hi:
            if started:
                covered += cur_hi - cur_lo
            cur_lo, cur_hi, started = a, b, True
        else:
            cur_hi = max(cur_hi, b)
    if started:
        covered += cur_hi - cur_lo
    return covered / (t1 - t0)
