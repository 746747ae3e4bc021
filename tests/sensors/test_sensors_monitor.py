"""The sampler: synchronous and threaded sampling, queries, robustness."""

from __future__ import annotations

import threading
import time

import pytest
from sensors_helpers import START

from hyperwatt.clock import FakeClock, SystemClock
from hyperwatt.sensors import Monitor, Sample, Sensor, SensorInfo, SensorSet, Unavailable
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor, burst, constant


class _Exploding(Sensor):
    def __init__(self) -> None:
        self.info = SensorInfo("boom", "cpu", "test", "nothing", None, None)

    def read(self) -> Sample:
        raise RuntimeError("driver bug")


def test_run_for_samples_at_the_rate_with_aux_every_few_rounds():
    clock = FakeClock(start=START)
    gpu = FakeGpu(constant(120.0), clock=clock, temp_c=41.0)
    monitor = Monitor(SensorSet([FakeGpuSensor(gpu)]), rate_hz=20.0, clock=clock, aux_every=5)
    monitor.run_for(5.0)
    samples = monitor.samples("gpu0")
    rounds = monitor.stats().rounds
    assert rounds == pytest.approx(100, abs=2)
    assert all(s.power_w == pytest.approx(120.0) for s in samples)
    assert all(s.util_pct is not None for s in samples)  # utilisation is read every time
    with_temp = [s for s in samples if s.temp_c is not None]
    assert 15 <= len(with_temp) <= 40 and with_temp[0].temp_c == 41.0
    assert [s.t_mono for s in samples] == sorted(s.t_mono for s in samples)


def test_samples_latest_window_and_merge():
    clock = FakeClock(start=START)
    a = FakeGpuSensor(FakeGpu(100.0, clock=clock), index=0)
    b = FakeGpuSensor(FakeGpu(200.0, clock=clock), index=1)
    monitor = Monitor(SensorSet([a, b]), clock=clock)
    monitor.run_for(2.0)
    both = monitor.samples(None, START + 0.5, START + 1.5)
    assert {s.sensor for s in both} == {"gpu0", "gpu1"}
    assert all(START + 0.5 <= s.t_mono <= START + 1.5 for s in both)
    assert [s.t_mono for s in both] == sorted(s.t_mono for s in both)
    assert monitor.latest("gpu1").power_w == pytest.approx(200.0)
    assert monitor.latest("nope") is None and monitor.samples("nope") == []
    monitor.discard_before(START + 1.0)
    assert min(s.t_mono for s in monitor.samples()) >= START + 1.0


def test_a_raising_sensor_records_errors_and_others_keep_going():
    clock = FakeClock(start=START)
    monitor = Monitor(SensorSet([_Exploding(), FakeGpuSensor(FakeGpu(100.0, clock=clock))]), clock=clock)
    monitor.run_for(1.0)
    boom = monitor.samples("boom")
    assert boom and all("driver bug" in (s.error or "") for s in boom)
    assert len(monitor.samples("gpu0")) >= 20
    est = monitor.measure(START, START + 1.0)
    assert est["boom"].energy_j is None and "driver bug" in est["boom"].reason
    assert est["gpu0"].energy_j == pytest.approx(100.0, rel=0.02)


def test_unavailable_sensors_are_not_measured_as_zero():
    clock = FakeClock(start=START)
    sset = SensorSet([FakeGpuSensor(FakeGpu(100.0, clock=clock))], [Unavailable("cpu", "no RAPL", "cpu")])
    monitor = Monitor(sset, clock=clock)
    monitor.run_for(1.0)
    assert set(monitor.measure(START, START + 1.0)) == {"gpu0"}


def test_thread_samples_in_real_time_and_reports_its_cpu():
    clock = SystemClock()
    sensor = FakeGpuSensor(FakeGpu(150.0, clock=clock, counter_read_cost_s=0.002))
    monitor = Monitor(SensorSet([sensor]), rate_hz=50.0, clock=clock)
    with monitor:
        assert monitor.running
        t0 = clock.monotonic()
        monitor.sample_now()
        time.sleep(1.2)
        t1 = clock.monotonic()
        monitor.sample_now()
        est = monitor.measure(t0, t1)["gpu0"]
    assert not monitor.running
    stats = monitor.stats()
    assert stats.achieved_rate_hz == pytest.approx(50.0, rel=0.3)
    assert stats.wall_s >= 1.2 and stats.cpu_s > 0
    assert stats.cpu_pct is not None and stats.cpu_pct < 100
    assert monitor.thread_error is None
    assert est.energy_j == pytest.approx(150.0 * (t1 - t0), rel=0.05)
    assert est.sample_count >= 30


def test_measure_right_after_a_load_ends_anchors_the_end_edge():
    clock = SystemClock()
    start = clock.monotonic() + 1.0
    gpu = FakeGpu(burst(70.0, 500.0, start, 1.0), clock=clock, counter_read_cost_s=0.002)
    monitor = Monitor(SensorSet([FakeGpuSensor(gpu)]), clock=clock)
    with monitor:
        time.sleep(max(0.0, start - 0.01 - clock.monotonic()))
        t0 = clock.monotonic()
        monitor.sample_now()
        time.sleep(max(0.0, start + 1.0 - clock.monotonic()))
        t1 = clock.monotonic()
        monitor.sample_now()
        est = monitor.measure(t0, t1)["gpu0"]  # at once: measure waits for the readings it needs
    truth = gpu.true_energy_j(t0, t1)
    assert abs(est.energy_j - truth) <= est.uncertainty_j
    assert abs(est.energy_j - truth) / truth < 0.01


def test_sample_now_is_safe_from_other_threads_while_sampling():
    clock = SystemClock()
    monitor = Monitor(SensorSet([FakeGpuSensor(FakeGpu(100.0, clock=clock))]), rate_hz=100.0, clock=clock)
    errors: list[BaseException] = []

    def poke() -> None:
        try:
            for _ in range(50):
                monitor.sample_now()
                monitor.samples("gpu0")
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    with monitor:
        threads = [threading.Thread(target=poke) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    times = [s.t_mono for s in monitor.samples("gpu0")]
    assert times == sorted(times) and len(times) >= 150


def test_rate_must_be_positive():
    with pytest.raises(ValueError):
        Monitor(SensorSet([]), rate_hz=0.0)


def test_a_fake_clock_monitor_samples_synchronously_instead_of_in_a_thread():
    clock = FakeClock(start=START)
    monitor = Monitor(SensorSet([FakeGpuSensor(FakeGpu(100.0, clock=clock))]), clock=clock)
    with monitor:
        assert not monitor.running
        monitor.sample_now()
        assert monitor.latest("gpu0") is not None
