"""When to read an expensive, step-updated energy counter (NVML: ~3.5 ms a read, a step every ~100 ms).

The window estimate needs counter steps located precisely near the window edges, not frequent
reads. The schedule therefore phase-locks on the counter's step grid:

- **seek**: read back-to-back until two consecutive reads differ; the step is then bracketed by
  about one read duration. The first lock seeks two steps and so measures the period (again, if
  the reads between them stalled for half of it or the counter moved without a precise bracket:
  a step could have passed unlocated).
- **locked**: every `lock_interval_s`, a *targeted* seek starts just before the next predicted
  step and reads until the counter moves: two or three reads, each lock an independent precise
  step that also refines the period and measures the jitter. After `request_edge` (a window edge
  passed) the seek aims at the first step that may still be ahead, starting at once if need be.
- **coarse**: the counter has no usable grid; read every `coarse_interval_s`, retry the lock later.
- **fine**: the counter steps faster than a read takes; every read is precise, read at the lock
  interval and at edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SEEK, LOCKED, COARSE, FINE = "seek", "locked", "coarse", "fine"
_MAX_RESTARTS = 5  # after this many stalled first locks, coarse reads (the lock is tried again later)


@dataclass(frozen=True)
class _Step:
    center: float
    half: float


class CounterSchedule:
    """Decides, read by read, when the sampler reads one sensor's energy counter."""

    def __init__(
        self,
        *,
        lock_interval_s: float = 1.0,
        seek_timeout_s: float = 0.5,
        coarse_interval_s: float = 0.25,
        retry_s: float = 10.0,
        safety_s: float = 0.001,
        seek_spacing_s: float = 0.0005,
    ) -> None:
        self.lock_interval_s = lock_interval_s
        self._seek_timeout_s = seek_timeout_s
        self._coarse_interval_s = coarse_interval_s
        self._retry_s = retry_s
        self._safety_s = safety_s
        self._spacing_s = seek_spacing_s
        self.mode = SEEK
        self.period_s: float | None = None  # measured step period
        self.period_err_s = math.inf
        self.jitter_s = 0.0  # largest deviation of a located step from the grid seen so far
        self.steps_located = 0
        self.reads = 0
        self.misses = 0
        self._latency_s = 0.0
        self._ref: _Step | None = None  # long-baseline reference for the period
        self._last: _Step | None = None
        self._prev: tuple[float, float, float] | None = None  # last read: t, value, latency
        self._gap_s = 0.0  # longest time between two reads since the last located step
        self._restarts = 0  # first locks begun again because reads stalled between their two steps
        self._seeking = True
        self._seek_deadline: float | None = None
        self._next_at = -math.inf
        self._retry_at = math.inf

    # --- what the sampler asks ---------------------------------------------------------------
    @property
    def last_step_s(self) -> float | None:
        """Instant of the latest precisely located step."""
        return self._last.center if self._last else None

    def next_read_at(self, now: float) -> float:
        """When the next counter read should start (<= now: read now)."""
        if not self._seeking:
            if self.mode == COARSE and now >= self._retry_at:
                self._start_seek(now)
            elif self.mode == LOCKED and now >= self._next_at:
                self._seeking = True
                self._seek_deadline = self._next_at + self._seek_timeout_s
        if self._seeking:
            if self._seek_deadline is None:
                self._seek_deadline = now + self._seek_timeout_s
            return now if self._prev is None else max(now, self._prev[0] + self._spacing_s)
        return self._next_at

    def request_edge(self, now: float) -> None:
        """A window edge just passed: locate the next counter step precisely, soon."""
        if self._seeking:
            return
        if self.mode == LOCKED:
            self._plan_edge(now)
        elif self.mode == COARSE:
            self._start_seek(now)
        elif self.mode == FINE:
            self._next_at = now

    def observe(self, t: float, value: float | None, latency_s: float) -> None:
        """A counter read whose midpoint was `t` (value None: the read failed)."""
        self.reads += 1
        if value is None:
            self._prev = None
            self._gap_s = math.inf  # a step may have passed unseen
            self._after_read(t)
            return
        self._latency_s = latency_s if self._latency_s == 0 else 0.8 * self._latency_s + 0.2 * latency_s
        prev, self._prev = self._prev, (t, value, latency_s)
        if prev is not None:
            self._gap_s = max(self._gap_s, t - prev[0])
        if prev is not None and value != prev[1]:
            lo, hi = prev[0] - prev[2] / 2, t + latency_s / 2
            if hi - lo <= self._precise_width():
                self._on_step(_Step(0.5 * (lo + hi), 0.5 * (hi - lo)), t)
                return
            self._gap_s = math.inf  # a step passed unlocated: the next located one may be two away
        self._after_read(t)

    # --- internals -----------------------------------------------------------------------------
    def _precise_width(self) -> float:
        width = 4 * self._latency_s + 2 * self._spacing_s + self._safety_s
        return min(width, self.period_s / 4) if self.period_s and self.mode != FINE else width

    def _after_read(self, t: float) -> None:
        if self._seeking and self._seek_deadline is not None and t > self._seek_deadline:
            self._seeking = False
            self._seek_deadline = None
            self.misses += 1
            if self.mode == LOCKED and self.misses < 3:
                self._start_seek(t)
            else:
                self._go_coarse(t)
        elif not self._seeking and self.mode in (COARSE, FINE):
            interval = self._coarse_interval_s if self.mode == COARSE else self.lock_interval_s
            self._next_at = max(self._next_at, t + interval) if self._next_at > t else t + interval

    def _start_seek(self, now: float) -> None:
        self._seeking = True
        self._seek_deadline = now + self._seek_timeout_s
        if self.mode == COARSE:  # a fresh attempt at locking
            self.mode = SEEK
            self.jitter_s = 0.0

    def _on_step(self, step: _Step, t: float) -> None:
        self.steps_located += 1
        gap, self._gap_s = self._gap_s, 0.0
        if self.period_s is None:
            self._first_lock(step, t, gap)
            return
        last = self._last
        assert last is not None
        k = round((step.center - last.center) / self.period_s)
        if k >= 1:
            resid = abs(step.center - last.center - k * self.period_s) - step.half - last.half
            resid -= k * self.period_err_s
            self.jitter_s = max(0.95 * self.jitter_s, resid, 0.0)
        self._refine_period(step)
        self._last = step
        self._seeking = False
        self._seek_deadline = None
        if self.mode == FINE:
            self._next_at = t + self.lock_interval_s
            return
        if self.jitter_s > self.period_s / 4:  # steps stray too far from any grid: stop predicting
            self._go_coarse(t)
            return
        self.mode = LOCKED
        self.misses = 0
        self._plan(t, t + self.lock_interval_s - self.period_s)

    def _go_coarse(self, t: float) -> None:
        self.mode = COARSE
        self._retry_at = t + self._retry_s
        self._next_at = t + self._coarse_interval_s

    def _first_lock(self, step: _Step, t: float, gap_s: float) -> None:
        period = step.center - self._last.center if self._last is not None else math.inf
        stalled = gap_s > period / 2  # a step may have passed unseen or unlocated between the two
        if stalled and self._restarts >= _MAX_RESTARTS:  # no clean pair: no period to trust
            self._last = self._ref = None
            self._restarts = 0
            self._seeking = False
            self._seek_deadline = None
            self._go_coarse(t)
            return
        if self._last is None or stalled:  # keep seeking: the next step gives the period
            self._restarts += stalled
            self._last = self._ref = step
            self._seek_deadline = t + self._seek_timeout_s
            return
        self._seeking = False
        self._seek_deadline = None
        if period <= 0 or period > 2.0:
            self._last = self._ref = None
            self._go_coarse(t)
            return
        self.period_s = period
        self.period_err_s = step.half + self._last.half
        self._last = step
        if period < 4 * max(self._latency_s, self._spacing_s):
            self.mode = FINE
            self._next_at = t + self.lock_interval_s
            return
        self.mode = LOCKED
        self._plan(t, t)

    def _refine_period(self, step: _Step) -> None:
        assert self.period_s is not None
        ref = self._ref
        if ref is None:
            self._ref = step
            return
        n = round((step.center - ref.center) / self.period_s)
        if n < 1:
            return
        if abs(step.center - ref.center - n * self.period_s) > self.period_s / 4:
            self._ref = step  # the grid moved (driver restart?): start a new baseline
            return
        err = (ref.half + step.half + self.jitter_s) / n
        if err < self.period_err_s:
            self.period_s = (step.center - ref.center) / n
            self.period_err_s = err

    def _margin(self, k: int) -> float:
        assert self._last is not None
        return self._last.half + k * self.period_err_s + self.jitter_s + self._safety_s

    def _plan_edge(self, now: float) -> None:
        """Seek the first step predicted more than one read after an edge, at once if its seek
        should already have started: the read at the edge and the seek's reads bracket it. (A step
        predicted sooner may already be in the edge's read; seeking it could cost a whole period.)"""
        assert self._last is not None and self.period_s is not None
        period, last = self.period_s, self._last.center
        k = max(1, math.ceil((now + self._latency_s - last) / period))
        while last + k * period <= now + self._latency_s:
            k += 1
        self._next_at = max(now, last + k * period - self._margin(k) - self._latency_s)

    def _plan(self, now: float, desired: float) -> None:
        """Plan a targeted seek at a predicted step: the first one whose seek starts after `desired`,
        unless the period is not known well enough to predict that far; never one before `now`."""
        assert self._last is not None and self.period_s is not None
        period, last = self.period_s, self._last.center

        def first_k(t: float) -> int:
            k = max(1, math.ceil((t - last) / period))
            while last + k * period - self._margin(k) - self._latency_s < t:
                k += 1
            return k

        k_max = 1  # while the period is still uncertain, predict only as far as it allows
        while k_max < 10_000 and (k_max + 1) * self.period_err_s <= period / 8:
            k_max += 1
        k = max(first_k(now), min(first_k(desired), k_max))
        self._next_at = last + k * period - self._margin(k) - self._latency_s
