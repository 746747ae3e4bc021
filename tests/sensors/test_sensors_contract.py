"""One contract, every sensor: NVML over a fake NVML, RAPL over a fake powercap tree, the CPU-time
estimate, and the fakes all pass the same assertions (as optuna runs one suite on every storage).

A capability a sensor declares must work; one it does not declare must be a harmless no-op."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sensors_helpers import START

from hyperwatt.clock import FakeClock
from hyperwatt.sensors import CpuEstimateSensor, GpuProcess, GpuSensor, NvmlGpuSensor, Sensor, open_rapl
from hyperwatt.sensors.base import Capabilities
from hyperwatt.sensors.fake import (
    FakeGpu,
    FakeGpuSensor,
    FakeNvml,
    ReplayGpuSensor,
    ReplaySensor,
    constant,
    make_powercap_tree,
)
from hyperwatt.sensors.records import EnergyEstimate, Sample, SensorInfo


@dataclass
class Subject:
    sensor: Sensor
    clock: FakeClock
    #: spend `seconds` of simulated time with the device busy (energy flows)
    busy: Callable[[float], None]
    #: put `pid` on the device (GPUs that list processes) with this utilisation
    occupy: Callable[[int, float], None] | None = None


def _nvml(counter: bool) -> Callable[[Path], Subject]:
    def make(tmp_path: Path) -> Subject:
        clock = FakeClock(start=START)
        gpu = FakeGpu(constant(200.0), clock=clock, counter=counter)
        nvml = FakeNvml([gpu])
        nvml.nvmlInit()

        def occupy(pid: int, util: float) -> None:
            gpu.processes.append(GpuProcess(pid, 512.0))
            gpu.process_util[pid] = util

        return Subject(NvmlGpuSensor(nvml, 0, clock), clock, clock.advance, occupy)

    return make


def _fake_gpu(tmp_path: Path) -> Subject:
    clock = FakeClock(start=START)
    gpu = FakeGpu(constant(150.0), clock=clock)

    def occupy(pid: int, util: float) -> None:
        gpu.processes.append(GpuProcess(pid, None))
        gpu.process_util[pid] = util

    return Subject(FakeGpuSensor(gpu), clock, clock.advance, occupy)


def _rapl(tmp_path: Path) -> Subject:
    clock = FakeClock(start=START)
    tree = make_powercap_tree(tmp_path, packages=1, dram=False)
    sensors, missing = open_rapl(tmp_path, clock, read_text=tree.read_text)
    assert not missing[:1] or missing[0].name != "cpu"
    cpu = next(s for s in sensors if s.name == "cpu")

    def busy(seconds: float) -> None:
        tree.add_energy("intel-rapl:0", int(40.0 * seconds * 1e6))
        clock.advance(seconds)

    return Subject(cpu, clock, busy)


def _estimate(tmp_path: Path) -> Subject:
    clock = FakeClock(start=START)
    sensor = CpuEstimateSensor(cpu_tdp_w=16.0, clock=clock, logical_cpus=4)
    return Subject(sensor, clock, clock.advance)


def _recording(clock: FakeClock, name: str, domain: str) -> tuple[list[Sample], SensorInfo]:
    info = SensorInfo(name=name, domain=domain, method="replay", device="recorded", update_period_s=0.1,
                      resolution_j=None)
    samples = [Sample(name, START + k * 0.1, 1e9 + k * 0.1, power_w=80.0, energy_j=8.0 * k) for k in range(200)]
    return samples, info


def _replay(tmp_path: Path) -> Subject:
    clock = FakeClock(start=START)
    samples, info = _recording(clock, "cpu", "cpu")
    return Subject(ReplaySensor(samples, info, clock), clock, clock.advance)


def _replay_gpu(tmp_path: Path) -> Subject:
    clock = FakeClock(start=START)
    samples, info = _recording(clock, "gpu0", "gpu")
    return Subject(ReplayGpuSensor(samples, info, clock), clock, clock.advance)


IMPLEMENTATIONS: dict[str, Callable[[Path], Subject]] = {
    "nvml-over-fake-nvml": _nvml(counter=True),
    "nvml-over-fake-nvml-no-counter": _nvml(counter=False),
    "rapl-over-fake-powercap": _rapl,
    "cpu-time-estimate": _estimate,
    "fake-gpu": _fake_gpu,
    "replay": _replay,
    "replay-gpu": _replay_gpu,
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    made = IMPLEMENTATIONS[request.param](tmp_path)
    yield made
    made.sensor.close()


def test_provenance_is_complete(subject: Subject) -> None:
    info = subject.sensor.info
    assert info.name and subject.sensor.name == info.name
    assert info.domain in ("gpu", "cpu", "dram")
    assert info.method and info.device
    assert info.relative_uncertainty >= 0
    assert subject.sensor.min_read_interval_s >= 0


def test_read_returns_a_stamped_sample_of_this_sensor(subject: Subject) -> None:
    first = subject.sensor.read()
    subject.busy(0.5)
    second = subject.sensor.read()
    for sample in (first, second):
        assert isinstance(sample, Sample)
        assert sample.sensor == subject.sensor.name
    assert second.t_mono > first.t_mono
    assert subject.sensor.check() is None or isinstance(subject.sensor.check(), str)


def test_capabilities_are_declared(subject: Subject) -> None:
    caps = subject.sensor.capabilities
    assert isinstance(caps, Capabilities)
    if isinstance(subject.sensor, GpuSensor):
        assert caps.energy_counter == subject.sensor.has_counter
    else:  # only GPUs list processes
        assert not (caps.process_list or caps.process_util)


def test_a_declared_energy_counter_counts(subject: Subject) -> None:
    sensor = subject.sensor
    if not sensor.capabilities.energy_counter:
        if isinstance(sensor, GpuSensor):
            assert sensor.read(counter=True).energy_j is None
        return
    assert isinstance(sensor, GpuSensor)
    before = sensor.read(counter=True).energy_j
    subject.busy(2.0)
    after = sensor.read(counter=True).energy_j
    assert before is not None and after is not None and after > before
    assert sensor.read(counter=False).energy_j is None  # the expensive read only when asked


def test_process_listing_matches_the_declaration(subject: Subject) -> None:
    sensor = subject.sensor
    if not isinstance(sensor, GpuSensor):
        return
    caps = sensor.capabilities
    if subject.occupy is not None:
        subject.occupy(4242, 87.0)
    subject.busy(0.5)
    listed = sensor.processes()
    samples = sensor.process_samples(0.0)
    if caps.process_list and subject.occupy is not None:
        assert [p.pid for p in listed] == [4242]
    if not caps.process_list:
        assert listed == []
    if caps.process_util and subject.occupy is not None:
        assert [(s.pid, s.sm_util_pct) for s in samples] == [(4242, 87.0)]
    if not caps.process_util:
        assert samples == []


def test_tracking_follows_a_process_only_where_declared(subject: Subject) -> None:
    sensor = subject.sensor
    sensor.track(lambda: [os.getpid()])  # harmless for every sensor
    subject.busy(0.5)
    sample = sensor.read()
    if sensor.capabilities.process_tracking:
        assert sample.error is None and sample.energy_j is not None


def test_cpu_time_windows_only_where_declared(subject: Subject) -> None:
    sensor = subject.sensor
    sampled = EnergyEstimate(sensor=sensor.name, domain=sensor.info.domain, energy_j=1.0, uncertainty_j=0.1,
                             method=sensor.info.method, duration_s=2.0, sample_count=20, achieved_rate_hz=10.0,
                             update_period_s=None, gap_count=0, max_gap_s=None)
    result = sensor.window_from_cpu_time(3.0, 2.0, sampled)
    if sensor.capabilities.cpu_time_windows:
        assert result.energy_j is not None and result.energy_j > sampled.energy_j
        assert result.uncertainty_j is not None and result.uncertainty_j > 0
    else:
        assert result is sampled
