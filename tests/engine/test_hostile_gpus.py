"""A plan that names GPUs this machine lacks is refused before any training, and its session stays
resumable (it ran on the CPU, unmeasured, without a word)."""

from __future__ import annotations

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from hyperwatt.errors import PreflightError
from hyperwatt.sensors import SensorSet
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor
from hyperwatt.sensors.records import GpuProcess, Unavailable
from hyperwatt.store import open_store


def _run(plan, toy_dir, sensors):
    loaded = load_plan(plan, Registry.builtin())
    return run_plan(loaded, SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: sensors))


def test_named_gpu_that_did_not_open_is_refused(write_plan, toy_dir):
    plan = write_plan('[sensors]\ngpus = [0, 3]\n[[experiments]]\nworkload = "toy/net"\n')
    sensors = SensorSet(sensors=[FakeGpuSensor(FakeGpu(power=60.0), index=0)],
                        unavailable=[Unavailable("gpu3", "no GPU with NVML index 3 (1 visible)", "gpu")])
    with pytest.raises(PreflightError, match=r"plan.toml: sensors.gpus: GPU 3 cannot be used \(no GPU with NVML"):
        _run(plan, toy_dir, sensors)
    (session,) = open_store(toy_dir / "results").sessions()
    assert session.status == "interrupted"  # resumable once the GPU is there; it said "completed"
    assert list((toy_dir / "results").glob("*/*/experiment.json")) == []


def test_no_gpu_at_all_with_gpus_named(write_plan, toy_dir):
    plan = write_plan('[sensors]\ngpus = [0]\n[[experiments]]\nworkload = "toy/net"\n')
    with pytest.raises(PreflightError, match="GPU 0 cannot be used"):
        _run(plan, toy_dir, None)


def test_gpus_option_naming_a_missing_gpu_names_the_option_not_the_plan(write_plan, toy_dir):
    """`run plan.toml --gpus 0` on a machine without that GPU: the line blamed the plan's
    `sensors.gpus`, a key the plan does not have."""
    plan = write_plan('[[experiments]]\nworkload = "toy/net"\n')
    loaded = load_plan(plan, Registry.builtin())
    with pytest.raises(PreflightError) as info:
        run_plan(loaded, SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: None, gpus=[0]))
    assert str(info.value).startswith("--gpus: GPU 0 cannot be used"), str(info.value)
    assert "sensors.gpus" not in str(info.value) and "plan.toml" not in str(info.value)


def test_busy_gpu_abort_leaves_the_session_resumable(write_plan, toy_dir):
    plan = write_plan('[[experiments]]\nworkload = "toy/net"\n')
    gpu = FakeGpu(power=60.0)
    gpu.processes = [GpuProcess(pid=999_999, used_memory_mib=None)]
    with pytest.raises(PreflightError, match="busy"):
        _run(plan, toy_dir, SensorSet(sensors=[FakeGpuSensor(gpu, index=0)]))
    (session,) = open_store(toy_dir / "results").sessions()
    assert session.status == "interrupted"
