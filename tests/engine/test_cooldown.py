"""Adaptive cooldown: the stopping rules, on a fake clock with a fake GPU."""

from __future__ import annotations

import pytest

from hyperwatt.clock import FakeClock
from hyperwatt.engine.cooldown import CooldownPolicy, wait_for_cooldown
from hyperwatt.sensors import CpuEstimateSensor, IdleBaseline, Monitor, SensorSet
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor, PiecewiseLinear

START = 100.0
IDLE = {"gpu0": IdleBaseline("gpu0", power_w=60.0, power_std_w=1.0, temp_c=35.0, duration_s=5.0, sample_count=100)}


def _decay(hot_until: float, cool_at: float) -> PiecewiseLinear:
    """300 W until `hot_until`, then linearly down to 60 W at `cool_at`."""
    return PiecewiseLinear([(START + hot_until, 300.0), (START + cool_at, 60.0)])


def _monitor(power, temp=35.0, clock: FakeClock | None = None) -> tuple[Monitor, FakeClock]:
    clock = clock or FakeClock(start=START)
    gpu = FakeGpu(power, clock=clock, temp_c=temp, counter_read_cost_s=0.0035)
    return Monitor(SensorSet([FakeGpuSensor(gpu)]), rate_hz=10.0, clock=clock), clock


def test_waits_at_least_the_minimum_even_when_already_idle():
    monitor, clock = _monitor(60.0)
    res = wait_for_cooldown(monitor, IDLE, CooldownPolicy(min_s=5.0, max_s=60.0, stable_samples=3), clock)
    assert res.reached
    assert res.duration_s == pytest.approx(5.0, abs=0.6)
    assert res.final_power_w["gpu0"] == pytest.approx(60.0)
    assert "near idle" in res.reason


def test_stops_once_power_is_within_tolerance_for_the_stable_polls():
    monitor, clock = _monitor(_decay(hot_until=2.0, cool_at=12.0))
    policy = CooldownPolicy(min_s=1.0, max_s=60.0, power_tolerance_w=10.0, power_tolerance_pct=10.0,
                            stable_samples=4, poll_s=0.5)
    res = wait_for_cooldown(monitor, IDLE, policy, clock)
    assert res.reached
    # within 10 W of 60 W from ~11.6 s on (the field lags one 100 ms update), then 4 stable polls
    assert 11.6 + 1.5 - 0.3 <= res.duration_s <= 11.6 + 2.0 + 0.4
    assert res.final_power_w["gpu0"] <= 70.0


def test_percentage_tolerance_applies_when_larger():
    idle = {"gpu0": IdleBaseline("gpu0", 200.0, 1.0, None, 5.0, 100)}
    monitor, clock = _monitor(225.0)  # 25 W above idle: outside 10 W but inside 15 % (30 W)
    res = wait_for_cooldown(monitor, idle, CooldownPolicy(min_s=0.0, max_s=10.0, power_tolerance_pct=15.0,
                                                         stable_samples=2), clock)
    assert res.reached and res.duration_s < 2.0


def test_temperature_must_come_back_too():
    temp = lambda t: 35.0 + max(0.0, 10.0 - (t - START))  # noqa: E731 - 45 °C falling to 35 °C at +10 s
    monitor, clock = _monitor(60.0, temp=temp)
    res = wait_for_cooldown(monitor, IDLE, CooldownPolicy(min_s=0.0, max_s=60.0, temp_delta_c=2.0,
                                                         stable_samples=3, poll_s=0.5), clock)
    assert res.reached
    assert 8.0 <= res.duration_s <= 10.5
    assert res.final_temp_c["gpu0"] <= 37.0


def test_gives_up_at_max_and_names_the_hot_sensor():
    monitor, clock = _monitor(250.0)
    res = wait_for_cooldown(monitor, IDLE, CooldownPolicy(min_s=1.0, max_s=8.0), clock)
    assert not res.reached
    assert res.duration_s == pytest.approx(8.0, abs=0.01)
    assert "gpu0 still at 250 W" in res.reason and "gave up" in res.reason


def test_without_gpu_sensors_waits_the_minimum_only():
    clock = FakeClock(start=START)
    monitor = Monitor(SensorSet([CpuEstimateSensor(clock=clock)]), clock=clock)
    res = wait_for_cooldown(monitor, {}, CooldownPolicy(min_s=3.0, max_s=60.0), clock)
    assert res.reached and res.duration_s == pytest.approx(3.0, abs=0.01)
    assert "no GPU sensor" in res.reason


def test_a_gpu_without_baseline_is_not_waited_for():
    monitor, clock = _monitor(400.0)  # another slot's busy GPU
    res = wait_for_cooldown(monitor, {}, CooldownPolicy(min_s=2.0, max_s=60.0), clock)
    assert res.reached and res.duration_s == pytest.approx(2.0, abs=0.01)
    assert "no idle baseline" in res.reason


def test_interrupt_stops_the_wait():
    monitor, clock = _monitor(300.0)
    start = clock.monotonic()
    res = wait_for_cooldown(monitor, IDLE, CooldownPolicy(min_s=1.0, max_s=100.0), clock,
                            should_stop=lambda: clock.monotonic() - start > 3.0)
    assert not res.reached and "interrupted" in res.reason
    assert 3.0 <= res.duration_s <= 3.6


def test_zero_bounds_return_at_once():
    monitor, clock = _monitor(300.0)
    res = wait_for_cooldown(monitor, IDLE, CooldownPolicy(min_s=0.0, max_s=0.0), clock)
    assert not res.reached and res.duration_s == 0.0
