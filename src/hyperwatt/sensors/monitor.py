"""The sampler: a thread that records a timeline of every sensor and measures window energy."""

from __future__ import annotations

import bisect
import heapq
import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hyperwatt.clock import SYSTEM_CLOCK, Clock, FakeClock
from hyperwatt.sensors.base import GpuSensor, Sensor
from hyperwatt.sensors.records import EnergyEstimate, Sample
from hyperwatt.sensors.schedule import COARSE, FINE, LOCKED, CounterSchedule
from hyperwatt.sensors.slices import WindowSlicer
from hyperwatt.sensors.window import EndLevel, window_energy

if TYPE_CHECKING:
    from hyperwatt.sensors.discovery import SensorSet

log = logging.getLogger(__name__)
CONTEXT_S = 3.0  # samples either side of a window handed to the estimator
EDGE_WAIT_S = 0.6  # measure() waits at most this long for readings to anchor the window end
_EPS = 1e-4


@dataclass(frozen=True)
class CounterStats:
    mode: str  # seek | locked | coarse | fine
    period_s: float | None
    jitter_s: float
    steps_located: int
    reads: int


@dataclass(frozen=True)
class MonitorStats:
    """How the sampler kept up: rounds, misses, expensive reads, and its own CPU time."""

    rounds: int
    missed_rounds: int
    wall_s: float
    cpu_s: float  # thread CPU time of the sampler (0 when driven synchronously)
    achieved_rate_hz: float | None
    counters: dict[str, CounterStats] = field(default_factory=dict)

    @property
    def cpu_pct(self) -> float | None:
        """Sampler CPU as a percentage of one core."""
        return 100 * self.cpu_s / self.wall_s if self.wall_s > 0 else None


@dataclass
class _State:
    sensor: Sensor
    schedule: CounterSchedule | None
    samples: list[Sample] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    last_read: float = -math.inf


class Monitor:
    """Samples a SensorSet at `rate_hz` in a background thread (or synchronously via `run_for`).

    Cheap readings (power, utilisation) are taken every round; temperature, memory and SM clock
    every `aux_every` rounds; expensive energy counters on their own phase-locked schedule.
    """

    def __init__(self, sensors: SensorSet, rate_hz: float = 20.0, clock: Clock = SYSTEM_CLOCK, *,
                 lock_interval_s: float = 1.0, aux_every: int = 5) -> None:
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        self.sensor_set = sensors
        self.rate_hz = rate_hz
        self.clock = clock
        self._period = 1.0 / rate_hz
        self._aux_every = max(1, aux_every)
        self._states = [
            _State(s, CounterSchedule(lock_interval_s=lock_interval_s)
                   if isinstance(s, GpuSensor) and s.has_counter else None)
            for s in sensors.sensors
        ]
        self._by_name = {st.sensor.name: st for st in self._states}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_round = -math.inf
        self._rounds = 0
        self._missed = 0
        self._cpu_s = 0.0
        self._started: float | None = None
        self._ended: float | None = None
        self.thread_error: str | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the sampler thread. With a FakeClock (which only moves when told) no thread is
        started: sampling then happens in `sample_now`, `run_for` and the helpers that use them."""
        if self.running or isinstance(self.clock, FakeClock):
            return
        self._stop.clear()
        self._started, self._ended = self.clock.monotonic(), None
        self._thread = threading.Thread(target=self._run, name="hyperwatt-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5.0)
        self._thread = None
        self._ended = self.clock.monotonic()

    def __enter__(self) -> Monitor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        cpu0 = time.thread_time()
        self._next_round = self.clock.monotonic()
        try:
            while not self._stop.is_set():
                wake_at = self._tick(self.clock.monotonic())
                self._cpu_s = time.thread_time() - cpu0
                delay = wake_at - self.clock.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    self._wake.clear()
        except Exception as exc:  # a dead sampler must be visible, not silent
            self.thread_error = repr(exc)
            log.exception("hyperwatt sampler thread died")
        finally:
            self._cpu_s = time.thread_time() - cpu0

    # --- sampling --------------------------------------------------------------------------------
    def sample_now(self) -> None:
        """One synchronous round of every sensor (counters included), and a request to locate the
        next counter step precisely: call it right at each window edge."""
        with self._lock:
            for st in self._states:
                self._read(st, counter=True, aux=True)
            now = self.clock.monotonic()
            for st in self._states:
                if st.schedule is not None:
                    st.schedule.request_edge(now)
        self._wake.set()

    def wait(self, duration_s: float) -> None:
        """Let `duration_s` pass while sampling goes on: the thread's, or synchronous rounds."""
        if self.running:
            self.clock.sleep(duration_s)
        else:
            self.run_for(duration_s)

    def run_for(self, duration_s: float) -> None:
        """Sample synchronously for `duration_s` on this thread (fake clocks, or no thread wanted)."""
        end = self.clock.monotonic() + duration_s
        if self._started is None:
            self._started = self.clock.monotonic()
        if not math.isfinite(self._next_round):
            self._next_round = self.clock.monotonic()
        while True:
            now = self.clock.monotonic()
            if now >= end:
                break
            wake_at = self._tick(now)
            after = self.clock.monotonic()
            wait = min(wake_at, end) - after
            if wait > 0:
                self.clock.sleep(wait)
            elif after == now:  # nothing took time (a fake clock): move on a little
                self.clock.sleep(_EPS)
        self._ended = self.clock.monotonic()

    def _tick(self, now: float) -> float:
        """Do every read due at `now`; return when the next one is due."""
        with self._lock:
            round_due = now >= self._next_round - _EPS
            aux = self._rounds % self._aux_every == 0
            for st in self._states:
                if st.schedule is not None:
                    counter_due = st.schedule.next_read_at(now) <= now + _EPS
                    if counter_due or round_due:
                        self._read(st, counter=counter_due, aux=round_due and aux)
                elif round_due and now - st.last_read >= st.sensor.min_read_interval_s - _EPS:
                    self._read(st, counter=True, aux=aux)
            if round_due:
                self._rounds += 1
                self._next_round += self._period
                late = self.clock.monotonic() - self._next_round
                if late > 0:
                    skipped = math.floor(late / self._period) + 1
                    self._missed += skipped
                    self._next_round += skipped * self._period
            wake_at = self._next_round
            t = self.clock.monotonic()
            for st in self._states:
                if st.schedule is not None:
                    wake_at = min(wake_at, st.schedule.next_read_at(t))
            return wake_at

    def _read(self, st: _State, counter: bool, aux: bool) -> None:
        sensor = st.sensor
        try:
            sample = sensor.read(counter=counter, aux=aux) if isinstance(sensor, GpuSensor) else sensor.read()
        except Exception as exc:  # sensors must not raise; a bug in one must not stop the others
            sample = Sample(sensor.name, self.clock.monotonic(), self.clock.time(), error=f"read raised {exc!r}")
        st.samples.append(sample)
        st.times.append(sample.t_mono)
        st.last_read = sample.t_mono
        if st.schedule is not None and counter:
            value = sample.energy_j if sample.error is None else None
            st.schedule.observe(sample.t_mono, value, sample.read_latency_s or 0.0)

    # --- queries ---------------------------------------------------------------------------------
    def samples(self, sensor: str | None = None, t0: float | None = None, t1: float | None = None) -> list[Sample]:
        """Recorded samples of one sensor (or all, merged by time) with t0 <= t_mono <= t1."""
        with self._lock:
            if sensor is not None and sensor not in self._by_name:
                return []
            states = [self._by_name[sensor]] if sensor is not None else self._states
            parts = []
            for st in states:
                i = 0 if t0 is None else bisect.bisect_left(st.times, t0)
                j = len(st.times) if t1 is None else bisect.bisect_right(st.times, t1)
                parts.append(st.samples[i:j])
        return parts[0] if len(parts) == 1 else list(heapq.merge(*parts, key=lambda s: s.t_mono))

    def latest(self, sensor: str) -> Sample | None:
        with self._lock:
            st = self._by_name.get(sensor)
            return st.samples[-1] if st is not None and st.samples else None

    def discard_before(self, t_mono: float) -> None:
        """Forget samples older than `t_mono` (long sessions)."""
        with self._lock:
            for st in self._states:
                i = bisect.bisect_left(st.times, t_mono)
                del st.samples[:i], st.times[:i]

    def measure(self, t0_mono: float, t1_mono: float, end_level: EndLevel = "after") -> dict[str, EnergyEstimate]:
        """Energy per sensor over [t0_mono, t1_mono]. Waits briefly (sampler running) for a counter
        step after t1 so the end edge is anchored precisely. `end_level`: see `window_energy`."""
        if self.running:
            self._await_steps_after(t1_mono)
        out: dict[str, EnergyEstimate] = {}
        for st in self._states:
            ctx = self.samples(st.sensor.name, t0_mono - CONTEXT_S, t1_mono + CONTEXT_S)
            sched = st.schedule
            period = sched.period_s if sched is not None and sched.mode in (LOCKED, FINE) else None
            nominal = max(self._period, st.sensor.min_read_interval_s)
            est = window_energy(ctx, st.sensor.info, t0_mono, t1_mono, period_s=period, nominal_interval_s=nominal,
                                end_level=end_level)
            if self.thread_error and (est.partial or est.energy_j is None):
                est = replace(est, reason=f"{est.reason}; the sampler thread died: {self.thread_error}")
            out[st.sensor.name] = est
        return out

    def slicers(self, t0_mono: float, t1_mono: float, end_level: EndLevel = "after") -> dict[str, WindowSlicer]:
        """Per sensor, a slicer of the window [t0_mono, t1_mono] measured as `measure` does (call it
        after `measure`, which waits for the end edge's readings)."""
        out: dict[str, WindowSlicer] = {}
        for st in self._states:
            ctx = self.samples(st.sensor.name, t0_mono - CONTEXT_S, t1_mono + CONTEXT_S)
            sched = st.schedule
            period = sched.period_s if sched is not None and sched.mode in (LOCKED, FINE) else None
            nominal = max(self._period, st.sensor.min_read_interval_s)
            out[st.sensor.name] = WindowSlicer(ctx, st.sensor.info, t0_mono, t1_mono, period_s=period,
                                               nominal_interval_s=nominal, end_level=end_level)
        return out

    def _await_steps_after(self, t: float) -> None:
        deadline = self.clock.monotonic() + EDGE_WAIT_S
        scheds = [st for st in self._states if st.schedule is not None]
        with self._lock:
            for st in scheds:
                assert st.schedule is not None
                if (st.schedule.last_step_s or -math.inf) <= t and self.clock.monotonic() - t < 2.0:
                    st.schedule.request_edge(self.clock.monotonic())
        self._wake.set()
        while self.clock.monotonic() < deadline and self.running:
            with self._lock:
                pending = [st for st in scheds if not self._anchored_after(st, t)]
            if not pending:
                return
            self.clock.sleep(0.005)

    @staticmethod
    def _anchored_after(st: _State, t: float) -> bool:
        """A counter step located after `t`, and power read past the next refresh after it."""
        sched = st.schedule
        assert sched is not None
        if sched.mode == COARSE or sched.mode == FINE:
            return any(s.energy_j is not None for s in st.samples[-8:] if s.t_mono > t)
        step = sched.last_step_s
        if step is None or step <= t:
            return False
        return bool(st.times) and st.times[-1] >= step + 2.35 * (sched.period_s or 0.1)

    def stats(self) -> MonitorStats:
        with self._lock:
            end = self._ended if self._ended is not None and not self.running else self.clock.monotonic()
            wall = end - self._started if self._started is not None else 0.0
            counters = {
                st.sensor.name: CounterStats(st.schedule.mode, st.schedule.period_s, st.schedule.jitter_s,
                                             st.schedule.steps_located, st.schedule.reads)
                for st in self._states if st.schedule is not None
            }
            rate = self._rounds / wall if wall > 0 else None
            return MonitorStats(rounds=self._rounds, missed_rounds=self._missed, wall_s=wall, cpu_s=self._cpu_s,
                                achieved_rate_hz=rate, counters=counters)
