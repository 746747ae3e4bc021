"""The CPU-time estimate: labelled, tracks whole process trees, large stated uncertainty."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from hyperwatt.clock import SystemClock
from hyperwatt.sensors import CpuEstimateSensor, Monitor, SensorSet
from hyperwatt.sensors.estimate import DEFAULT_CPU_POWER_W, REL_UNCERTAINTY_DEFAULT, REL_UNCERTAINTY_TDP

BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"
PARENT = ("import subprocess, sys\n"
          "subprocess.run([sys.executable, '-c', {child!r}])\n" + BURN)


def test_labelled_and_uncertain():
    est = CpuEstimateSensor(cpu_tdp_w=160.0, logical_cpus=32)
    assert est.info.method == "cpu-time-estimate" and est.info.name == "cpu-estimate"
    assert est.cpu_power_w == pytest.approx(5.0)
    assert est.info.relative_uncertainty == REL_UNCERTAINTY_TDP
    assert "TDP 160 W / 32 logical CPUs" in est.info.device
    default = CpuEstimateSensor(logical_cpus=8)
    assert default.cpu_power_w == DEFAULT_CPU_POWER_W
    assert default.info.relative_uncertainty == REL_UNCERTAINTY_DEFAULT


def test_untracked_is_an_error_not_zero():
    s = CpuEstimateSensor().read()
    assert s.energy_j is None and "no process tree" in s.error


def test_counts_the_cpu_time_of_a_process_tree():
    sensor = CpuEstimateSensor(cpu_tdp_w=20.0, logical_cpus=2)  # 10 W per busy CPU
    proc = subprocess.Popen([sys.executable, "-c", PARENT.format(child=BURN.format(s=0.4), s=0.4)])
    sensor.track(lambda: [proc.pid])
    deadline = time.monotonic() + 30
    last = None
    while proc.poll() is None and time.monotonic() < deadline:
        s = sensor.read()
        assert s.error is None
        last = s.energy_j
        time.sleep(0.05)
    assert last is not None
    # both processes burned ~0.4 s each (the last reads before exit may miss a little)
    assert 10.0 * 0.5 <= last <= 10.0 * 1.2


def test_window_estimate_carries_the_relative_uncertainty():
    clock = SystemClock()
    sensor = CpuEstimateSensor(cpu_tdp_w=20.0, clock=clock, logical_cpus=2)
    monitor = Monitor(SensorSet([sensor]), clock=clock)
    proc = subprocess.Popen([sys.executable, "-c", BURN.format(s=0.6)])
    sensor.track(lambda: [proc.pid])
    t0 = clock.monotonic()
    monitor.sample_now()
    while proc.poll() is None:
        monitor.run_for(0.1)
    monitor.run_for(0.6)
    t1 = clock.monotonic()
    monitor.sample_now()
    est = monitor.measure(t0, t1)["cpu-estimate"]
    assert est.method == "cpu-time-estimate"
    assert est.energy_j is not None and 2.0 <= est.energy_j <= 8.0
    assert est.uncertainty_j >= REL_UNCERTAINTY_TDP * est.energy_j


def test_several_tracked_trees_add_up():
    sensor = CpuEstimateSensor(cpu_tdp_w=20.0, logical_cpus=2)
    procs = [subprocess.Popen([sys.executable, "-c", BURN.format(s=0.3)]) for _ in range(2)]
    for proc in procs:
        sensor.track(lambda proc=proc: [proc.pid] if proc.poll() is None else [])
    last = None
    while any(p.poll() is None for p in procs):
        last = sensor.read().energy_j
        time.sleep(0.05)
    assert last is not None and 10.0 * 0.4 <= last <= 10.0 * 0.75
