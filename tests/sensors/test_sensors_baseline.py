"""Idle baseline and net energy."""

from __future__ import annotations

import pytest
from sensors_helpers import START

from hyperwatt.clock import FakeClock
from hyperwatt.sensors import (
    CpuEstimateSensor, EnergyEstimate, IdleBaseline, Monitor, SensorSet, measure_idle, net_energy_j,
)
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor, burst


def test_idle_power_and_temperature_from_the_counter():
    clock = FakeClock(start=START)
    gpu = FakeGpu(burst(72.0, 400.0, START + 50, 5), clock=clock, temp_c=38.0, counter_read_cost_s=0.0035)
    monitor = Monitor(SensorSet([FakeGpuSensor(gpu), CpuEstimateSensor(clock=clock)]), clock=clock)
    monitor.run_for(1.0)
    base = measure_idle(monitor, 3.0, clock)
    gpu0 = base["gpu0"]
    assert gpu0.power_w == pytest.approx(72.0, rel=2e-3)
    assert gpu0.power_std_w == pytest.approx(0.0, abs=1e-6)
    assert gpu0.temp_c == 38.0
    assert gpu0.duration_s == pytest.approx(3.0, abs=0.01) and gpu0.sample_count >= 60
    cpu = base["cpu-estimate"]
    assert cpu.power_w is None and cpu.sample_count == 0  # nothing tracked: unknown, not zero


def test_net_energy():
    est = EnergyEstimate("gpu0", "gpu", 1000.0, 1.0, "nvml-energy-counter", 10.0, 200, 20.0, 0.1, 0, 0.05)
    base = IdleBaseline("gpu0", 60.0, 1.0, 35.0, 5.0, 100)
    assert net_energy_j(est, base) == pytest.approx(400.0)
    assert net_energy_j(est, None) is None
    assert net_energy_j(est, IdleBaseline("gpu0", None, None, None, 5.0, 0)) is None
    unknown = EnergyEstimate("gpu0", "gpu", None, None, "nvml-energy-counter", 10.0, 0, None, None, 0, None,
                             reason="no readings")
    assert net_energy_j(unknown, base) is None
