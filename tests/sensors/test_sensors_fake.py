"""The fakes themselves: exact curves, a stepping counter, replay of a recorded timeline."""

from __future__ import annotations

import pytest
from sensors_helpers import START

from hyperwatt.clock import FakeClock
from hyperwatt.sensors import Monitor, SensorSet
from hyperwatt.sensors.fake import (
    FakeGpu, FakeGpuSensor, PiecewiseLinear, ReplayGpuSensor, as_curve, burst, constant, square_wave,
)


def test_piecewise_linear_energy_is_exact():
    curve = PiecewiseLinear([(0.0, 0.0), (2.0, 100.0), (2.0, 50.0), (4.0, 50.0)])
    assert curve(1.0) == pytest.approx(50.0)
    assert curve(2.0) == pytest.approx(50.0)  # right-continuous at a vertical step
    assert curve(-5.0) == 0.0 and curve(9.0) == 50.0
    assert curve.energy_j(0.0, 4.0) == pytest.approx(100.0 + 100.0)
    assert curve.energy_j(1.0, 3.0) == pytest.approx((50 + 100) / 2 * 1 + 50)
    assert curve.energy_j(4.0, 6.0) == pytest.approx(100.0)
    assert square_wave(0.0, 10.0, 0.0, 1.0, 0.25, 0.25).energy_j(-1, 2) == pytest.approx(5.0)
    assert burst(1.0, 11.0, 0.0, 1.0).energy_j(0.0, 1.0) == pytest.approx(11.0)
    numeric = as_curve(lambda t: 3.0 * t)
    assert numeric.energy_j(0.0, 2.0) == pytest.approx(6.0, rel=1e-6)
    with pytest.raises(ValueError):
        PiecewiseLinear([(1.0, 0.0), (0.0, 1.0)])


def test_fake_counter_steps_every_update_period():
    clock = FakeClock(start=START)
    gpu = FakeGpu(constant(100.0), clock=clock, phase_s=0.03)
    values = []
    for _ in range(100):
        clock.advance(0.01)
        values.append(gpu.counter_mj(clock.monotonic()))
    steps = [b - a for a, b in zip(values, values[1:]) if b != a]
    assert len(steps) == 10 and all(s == 10_000 for s in steps)  # 100 W x 100 ms = 10 J each
    assert gpu.last_update(START + 0.5) == pytest.approx(START + 0.43)


def test_replay_of_a_recorded_timeline_gives_the_same_energy():
    clock = FakeClock(start=START)
    gpu = FakeGpu(burst(60.0, 300.0, START + 2, 3.0), clock=clock, counter_read_cost_s=0.0035)
    sensor = FakeGpuSensor(gpu)
    recording = Monitor(SensorSet([sensor]), clock=clock)
    recording.run_for(8.0)
    original = recording.measure(START + 1, START + 6)["gpu0"]

    replay_clock = FakeClock(start=5000.0)
    replay = ReplayGpuSensor(recording.samples("gpu0"), sensor.info, replay_clock, start_mono=5000.0)
    assert replay.has_counter and replay.processes() == []
    replayed = Monitor(SensorSet([replay]), clock=replay_clock)
    replayed.run_for(8.0)
    again = replayed.measure(5000.0 + 1, 5000.0 + 6)["gpu0"]
    assert again.energy_j == pytest.approx(original.energy_j, rel=0.01)
    assert replay_clock.monotonic() >= 5008.0
    replay_clock.advance(100.0)
    assert replay.read().error == "replay: no recording at this time"
