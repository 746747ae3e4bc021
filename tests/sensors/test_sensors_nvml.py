"""The NVML sensor (the hardware path) against a fake pynvml module."""

from __future__ import annotations

import pytest
from sensors_helpers import START

from hyperwatt.clock import FakeClock
from hyperwatt.sensors import GpuProcess, Monitor, NvmlGpuSensor, SensorSet
from hyperwatt.sensors.fake import FakeError, FakeGpu, FakeNvml, constant
from hyperwatt.sensors.nvml import open_gpus
from hyperwatt.sensors.window import COUNTER_RESET


def _gpu(clock: FakeClock, **kw) -> FakeGpu:
    kw.setdefault("counter_read_cost_s", 0.0035)
    return FakeGpu(kw.pop("power", constant(250.0)), clock=clock, **kw)


def _opened(nvml: FakeNvml) -> NvmlGpuSensor:
    nvml.nvmlInit()
    return NvmlGpuSensor(nvml, 0, nvml.gpus[0].clock)


def test_reads_power_fields_counter_and_aux():
    clock = FakeClock(start=START)
    gpu = _gpu(clock, temp_c=47.0, util_pct=93.0, mem_used_mib=2048.0, sm_clock_mhz=1755.0)
    sensor = _opened(FakeNvml([gpu]))
    assert sensor.info.method == "nvml-energy-counter"
    assert sensor.info.device == "Fake GPU 80GB (index 0, uuid GPU-00000000-fake)"
    assert sensor.info.resolution_j == 0.001 and sensor.has_counter
    clock.advance(1.0)
    s = sensor.read()
    assert s.error is None
    assert s.power_w == pytest.approx(250.0) and s.power_avg_w == pytest.approx(250.0)
    assert s.energy_j == pytest.approx(250.0, abs=0.1 * 250)  # since opening, in 100 ms steps
    assert s.read_latency_s == pytest.approx(0.0035)
    assert (s.temp_c, s.util_pct, s.mem_used_mib, s.sm_clock_mhz) == (47.0, 93.0, 2048.0, 1755.0)
    cheap = sensor.read(counter=False, aux=False)
    assert cheap.energy_j is None and cheap.temp_c is None and cheap.power_w == pytest.approx(250.0)
    assert cheap.util_pct == 93.0


def test_energy_is_cumulative_from_opening_in_joules():
    clock = FakeClock(start=START)
    gpu = _gpu(clock, counter_offset_mj=5_000_000_000)
    sensor = _opened(FakeNvml([gpu]))
    first = sensor.read().energy_j
    clock.advance(4.0)
    second = sensor.read().energy_j
    assert first is not None and first < 30.0
    assert second - first == pytest.approx(1000.0, abs=30.0)


def test_without_counter_the_method_says_trapezoid():
    clock = FakeClock(start=START)
    nvml = FakeNvml([_gpu(clock, counter=False)])
    sensor = _opened(nvml)
    assert sensor.info.method == "nvml-power-trapezoid" and not sensor.has_counter
    assert sensor.read().energy_j is None
    assert nvml.calls["nvmlDeviceGetTotalEnergyConsumption"] == 1  # probed once, never read again


def test_without_instant_power_field_falls_back_to_power_usage():
    clock = FakeClock(start=START)
    sensor = _opened(FakeNvml([_gpu(clock)], unsupported=[186]))
    assert "nvmlDeviceGetPowerUsage" in sensor.info.notes
    assert sensor.read().power_w == pytest.approx(250.0)


def test_no_power_at_all_is_unavailable_with_reason():
    clock = FakeClock(start=START)
    nvml = FakeNvml([_gpu(clock, counter=False)], unsupported=[186, 185, "nvmlDeviceGetPowerUsage"])
    found = open_gpus(None, nvml, clock)
    assert not found.sensors
    assert found.unavailable[0].name == "gpu0" and "neither power nor energy" in found.unavailable[0].reason


def test_nvml_errors_become_error_samples():
    clock = FakeClock(start=START)
    sensor = _opened(FakeNvml([_gpu(clock, errors=[FakeError(START + 1, START + 2)])]))
    clock.advance(1.5)
    s = sensor.read()
    assert s.error == "NVML: GPU is lost"
    assert s.power_w is None and s.energy_j is None
    clock.advance(1.0)
    assert sensor.read().error is None


def test_counter_going_back_is_flagged_and_rebased():
    clock = FakeClock(start=START)
    gpu = _gpu(clock)
    sensor = _opened(FakeNvml([gpu]))
    clock.advance(2.0)
    before = sensor.read().energy_j
    gpu.counter_offset_mj = 0  # the driver was reloaded: the counter restarts low
    clock.advance(1.0)
    reset = sensor.read()
    assert reset.error is not None and reset.error.startswith(COUNTER_RESET)
    clock.advance(1.0)
    after = sensor.read().energy_j
    assert after - before == pytest.approx(250.0, abs=30.0)  # continues; the reset interval is lost


def test_processes_and_their_utilisation():
    clock = FakeClock(start=START)
    gpu = _gpu(clock)
    gpu.processes = [GpuProcess(4242, 1536.0), GpuProcess(77, None)]
    sensor = _opened(FakeNvml([gpu]))
    assert sensor.processes() == [GpuProcess(4242, 1536.0), GpuProcess(77, None)]
    assert sensor.process_samples(clock.time() - 5) == []  # NVML: no samples (NOT_FOUND)
    gpu.process_util = {4242: 61.0, 77: 30.0}
    samples = sensor.process_samples(clock.time() - 5)
    assert {(s.pid, s.sm_util_pct) for s in samples} == {(4242, 61.0), (77, 30.0)}
    assert all(s.t_wall == pytest.approx(clock.time(), abs=1e-6) for s in samples)


def test_process_listing_failure_is_empty_with_a_reason():
    clock = FakeClock(start=START)
    sensor = _opened(FakeNvml([_gpu(clock)], unsupported=["nvmlDeviceGetComputeRunningProcesses"]))
    assert sensor.processes() == []
    assert sensor.processes_error == "NVML: Not Supported"


def test_open_gpus_selects_indices_and_reports_missing_ones():
    clock = FakeClock(start=START)
    nvml = FakeNvml([_gpu(clock), _gpu(clock, name="Other")])
    found = open_gpus([1, 5], nvml, clock)
    assert [g.index for g in found.sensors] == [1]
    assert found.sensors[0].info.name == "gpu1" and "Other" in found.sensors[0].info.device
    assert found.unavailable[0].name == "gpu5" and "2 visible" in found.unavailable[0].reason
    assert found.driver_version == "550.54.15" and found.cuda_driver_version == "12.4"
    assert found.shutdown is not None
    found.shutdown()
    assert nvml.init_count == 0


def test_open_gpus_without_driver():
    found = open_gpus(None, FakeNvml([], init_error=12))
    assert not found.sensors and found.shutdown is None
    assert "NVML Shared Library Not Found" in found.unavailable[0].reason


def test_real_pynvml_on_a_machine_without_gpu_is_unavailable_not_an_error():
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        found = open_gpus()
        assert not found.sensors and found.unavailable and found.unavailable[0].name == "gpu"
    else:  # pragma: no cover - a GPU machine
        pynvml.nvmlShutdown()
        found = open_gpus()
        assert found.sensors or found.unavailable
        if found.shutdown:
            found.shutdown()


def test_monitor_over_the_nvml_sensor_measures_a_window():
    clock = FakeClock(start=START)
    nvml = FakeNvml([_gpu(clock, power=constant(300.0))])
    sensor = _opened(nvml)
    monitor = Monitor(SensorSet([sensor]), clock=clock)
    monitor.run_for(2.0)
    t0 = clock.monotonic()
    monitor.sample_now()
    monitor.run_for(5.0)
    t1 = clock.monotonic()
    monitor.sample_now()
    monitor.run_for(1.0)
    est = monitor.measure(t0, t1)["gpu0"]
    assert est.method == "nvml-energy-counter"
    assert abs(est.energy_j - 300.0 * (t1 - t0)) <= est.uncertainty_j
