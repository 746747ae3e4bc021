"""Discovery of a machine's sensors and the doctor's rows."""

from __future__ import annotations

from pathlib import Path

from sensors_helpers import START

from hyperwatt.clock import FakeClock
from hyperwatt.sensors import CpuEstimateSensor, describe, discover
from hyperwatt.sensors.fake import FakeGpu, FakeNvml, make_powercap_tree


def test_gpus_rapl_and_versions(tmp_path: Path):
    clock = FakeClock(start=START)
    make_powercap_tree(tmp_path, packages=2)
    nvml = FakeNvml([FakeGpu(100.0, clock=clock), FakeGpu(200.0, clock=clock)])
    sset = discover(powercap_root=tmp_path, nvml=nvml, clock=clock)
    assert [s.name for s in sset.sensors] == ["gpu0", "gpu1", "cpu", "dram"]
    assert [g.index for g in sset.gpus()] == [0, 1]
    assert sset.unavailable == []
    assert sset.driver_version == "550.54.15" and sset.cuda_driver_version == "12.4"
    assert sset.get("dram") is not None and sset.get("nope") is None
    sset.close()
    sset.close()
    assert nvml.init_count == 0


def test_without_rapl_the_cpu_is_estimated_and_the_reason_kept(tmp_path: Path):
    clock = FakeClock(start=START)
    sset = discover(gpu_indices=[0], cpu_tdp_w=64.0, powercap_root=tmp_path / "none",
                    nvml=FakeNvml([FakeGpu(100.0, clock=clock)]), clock=clock)
    est = sset.get("cpu-estimate")
    assert isinstance(est, CpuEstimateSensor)
    reasons = {u.name: u.reason for u in sset.unavailable}
    assert "no powercap tree" in reasons["cpu"] and "cpu-estimate" in reasons["cpu"]
    assert "dram" in reasons


def test_no_gpus_wanted_and_no_driver(tmp_path: Path):
    sset = discover(gpu_indices=[], powercap_root=tmp_path, nvml=FakeNvml([], init_error=9))
    assert sset.gpus() == [] and not any(u.name == "gpu" for u in sset.unavailable)
    sset = discover(cpu=False, nvml=FakeNvml([], init_error=9))
    assert sset.sensors == []
    assert sset.unavailable[0].name == "gpu" and "Driver Not Loaded" in sset.unavailable[0].reason


def test_describe_rows_with_detected_update_periods(tmp_path: Path):
    clock = FakeClock(start=START)
    make_powercap_tree(tmp_path, packages=1, dram=False)
    gpu = FakeGpu(100.0, clock=clock, counter_read_cost_s=0.0035)
    sset = discover(powercap_root=tmp_path, nvml=FakeNvml([gpu]), clock=clock)
    rows = {r["name"]: r for r in describe(sset, probe_s=2.0, clock=clock)}
    assert rows["gpu0"]["ok"] and rows["gpu0"]["status"] == "ok"
    assert abs(rows["gpu0"]["update_period_s"] - 0.1) < 0.002
    assert "(detected)" in rows["gpu0"]["detail"] and "nvml-energy-counter" in rows["gpu0"]["detail"]
    assert rows["cpu"]["ok"] and "(nominal)" in rows["cpu"]["detail"]
    assert not rows["dram"]["ok"] and rows["dram"]["status"] == "unavailable"
    assert rows["dram"]["detail"] == rows["dram"]["reason"]


def test_describe_without_arguments_works_on_any_machine():
    rows = describe(probe_s=0.2)
    assert rows and all({"name", "ok", "detail"} <= set(r) for r in rows)
    assert any(r["name"] == "gpu" or r["name"].startswith("gpu") for r in rows)
