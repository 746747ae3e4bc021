"""The counter schedule: lock onto the step grid, read rarely, locate steps precisely at edges."""

from __future__ import annotations

import pytest
from sensors_helpers import START

from hyperwatt.clock import FakeClock
from hyperwatt.sensors import CounterSchedule, Monitor, SensorSet
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor, constant
from hyperwatt.sensors.schedule import COARSE, FINE, LOCKED


class _Irregular(FakeGpu):
    """A counter that steps at irregular instants (no grid to lock on)."""

    def _update_time(self, k: int) -> float:
        return self.phase_s + k * self.update_period_s + (0.045 if k % 3 == 0 else -0.03 * (k % 2))


def _monitor(gpu: FakeGpu, clock: FakeClock, **kw) -> Monitor:
    return Monitor(SensorSet([FakeGpuSensor(gpu)]), clock=clock, **kw)


def test_locks_and_measures_the_period():
    clock = FakeClock(start=START)
    gpu = FakeGpu(constant(100.0), clock=clock, counter_read_cost_s=0.0035, phase_s=0.021)
    monitor = _monitor(gpu, clock)
    monitor.run_for(10.0)
    counter = monitor.stats().counters["gpu0"]
    assert counter.mode == LOCKED
    assert counter.period_s == pytest.approx(0.1, abs=2e-4)
    assert counter.steps_located >= 9


def test_expensive_reads_are_rare_once_locked():
    clock = FakeClock(start=START)
    gpu = FakeGpu(constant(100.0), clock=clock, counter_read_cost_s=0.0035)
    monitor = _monitor(gpu, clock)
    monitor.run_for(2.0)
    before = monitor.stats().counters["gpu0"].reads
    monitor.run_for(20.0)
    per_s = (monitor.stats().counters["gpu0"].reads - before) / 20.0
    assert per_s < 5.0  # about 3 reads per lock, one lock a second (20 Hz would be 20)


def test_edge_request_locates_the_next_step_promptly():
    clock = FakeClock(start=START)
    gpu = FakeGpu(constant(100.0), clock=clock, counter_read_cost_s=0.0035, phase_s=0.063)
    monitor = _monitor(gpu, clock)
    monitor.run_for(5.0)
    sched = monitor._states[0].schedule
    assert sched is not None
    edge = clock.monotonic()
    monitor.sample_now()
    monitor.run_for(0.3)
    step = sched.last_step_s
    assert step is not None and edge < step < edge + 0.2
    true_step = gpu.last_update(step + 0.05)
    assert abs(step - true_step) < 0.006


@pytest.mark.parametrize("lead_s", [0.012, 0.03, 0.06])
def test_edge_request_seeks_the_very_next_step(lead_s: float):
    """The step right after an edge is sought at once when it is more than a read away, not the one
    after it: the window's edge then sits between two precisely located steps."""
    clock = FakeClock(start=START)
    gpu = FakeGpu(constant(100.0), clock=clock, counter_read_cost_s=0.0035, phase_s=0.063)
    monitor = _monitor(gpu, clock, lock_interval_s=10.0)
    monitor.run_for(5.0)
    next_step = gpu.last_update(clock.monotonic() + 0.2)
    while next_step - clock.monotonic() > lead_s + 0.1:
        next_step -= 0.1
    monitor.run_for(next_step - lead_s - clock.monotonic())
    edge = clock.monotonic()
    monitor.sample_now()
    monitor.run_for(0.25)
    sched = monitor._states[0].schedule
    assert sched is not None
    located = [s.t_mono for s in monitor.samples("gpu0", edge, edge + 0.25) if s.read_latency_s]
    assert sched.last_step_s is not None and abs(sched.last_step_s - next_step) < 0.006
    assert len(located) <= 3 + lead_s / 0.0035  # back-to-back reads up to the step, then a few


@pytest.mark.parametrize("stall_s", [0.015, 0.03, 0.06, 0.15])
def test_a_stall_during_the_first_lock_does_not_double_the_period(stall_s: float):
    """Back-to-back reads of a counter stepping every 100 ms, the reader stalled between the first
    two steps it saw (a loaded machine): a step then passes unseen, or seen but not located, and
    the period is measured on a clean pair instead."""
    sched = CounterSchedule()
    t, stalled = 0.0, False
    while sched.period_s is None and t < 2.0:
        t = max(t, sched.next_read_at(t))
        if sched.steps_located == 1 and not stalled and (t + 0.00175 - 0.037) % 0.1 > 0.1 - stall_s / 2:
            t, stalled = t + stall_s, True
        sched.observe(t + 0.00175, float(int((t + 0.00175 - 0.037) // 0.1)), 0.0035)
        t += 0.0035
    assert stalled and sched.period_s == pytest.approx(0.1, abs=0.008)


def test_irregular_counter_still_gives_precise_steps_at_bounded_cost():
    clock = FakeClock(start=START)
    gpu = _Irregular(constant(100.0), clock=clock, counter_read_cost_s=0.0035)
    monitor = _monitor(gpu, clock)
    monitor.run_for(2.0)
    before = monitor.stats().counters["gpu0"].reads
    t0 = clock.monotonic()
    monitor.sample_now()
    monitor.run_for(10.0)
    t1 = clock.monotonic()
    monitor.sample_now()
    monitor.run_for(1.0)
    reads_per_s = (monitor.stats().counters["gpu0"].reads - before) / 11.0
    assert reads_per_s < 40
    est = monitor.measure(t0, t1)["gpu0"]
    truth = gpu.true_energy_j(t0, t1)
    assert abs(est.energy_j - truth) <= est.uncertainty_j


def test_a_stuck_counter_falls_back_to_coarse_reads():
    clock = FakeClock(start=START)
    gpu = FakeGpu(constant(0.0), clock=clock, counter_read_cost_s=0.0035)
    monitor = _monitor(gpu, clock)
    monitor.run_for(3.0)
    before = monitor.stats().counters["gpu0"]
    assert before.mode == COARSE
    monitor.run_for(5.0)
    assert monitor.stats().counters["gpu0"].reads - before.reads <= 5.0 / 0.25 + 2


def test_fast_counter_is_read_as_fine():
    clock = FakeClock(start=START)
    gpu = FakeGpu(constant(100.0), clock=clock, update_period_s=0.001, counter_read_cost_s=0.0005)
    monitor = _monitor(gpu, clock)
    monitor.run_for(5.0)
    counter = monitor.stats().counters["gpu0"]
    assert counter.mode == FINE
    assert counter.reads < 5.0 * 3 + 100


def test_failed_reads_do_not_lock():
    sched = CounterSchedule()
    for i in range(50):
        t = START + i * 0.001
        assert sched.next_read_at(t) <= t
        sched.observe(t, None, 0.0)
    assert sched.steps_located == 0
