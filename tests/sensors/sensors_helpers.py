"""Drive a Monitor over a scripted fake GPU on a fake clock and compare with the exact energy."""

from __future__ import annotations

from dataclasses import dataclass

from hyperwatt.clock import FakeClock
from hyperwatt.sensors import EnergyEstimate, Monitor, SensorSet
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor

START = 100.0


@dataclass
class Run:
    estimate: EnergyEstimate
    truth_j: float
    monitor: Monitor
    gpu: FakeGpu

    @property
    def error_j(self) -> float:
        assert self.estimate.energy_j is not None
        return self.estimate.energy_j - self.truth_j


def simulate(power, t0: float, t1: float, *, edges: bool = True, after_s: float = 2.0, rate_hz: float = 20.0,
             end_level: str = "after", lock_interval_s: float = 1.0, **gpu_kwargs) -> Run:
    """Sample from START to t1 + after_s (calling sample_now at both edges if `edges`), measure [t0, t1]."""
    clock = FakeClock(start=START)
    gpu_kwargs.setdefault("counter_read_cost_s", 0.0035)
    gpu_kwargs.setdefault("phase_s", 0.037)
    gpu = FakeGpu(power, clock=clock, **gpu_kwargs)
    monitor = Monitor(SensorSet([FakeGpuSensor(gpu)]), rate_hz=rate_hz, clock=clock,
                      lock_interval_s=lock_interval_s)
    monitor.run_for(t0 - clock.monotonic())
    if edges:
        monitor.sample_now()
    monitor.run_for(t1 - clock.monotonic())
    if edges:
        monitor.sample_now()
    monitor.run_for(after_s)
    estimate = monitor.measure(t0, t1, end_level=end_level)["gpu0"]
    return Run(estimate, gpu.true_energy_j(t0, t1), monitor, gpu)
