"""Local slots on fake GPUs: one slot per GPU (N = 1, 2, 4), `--gpus`/`sensors.gpus` choosing them,
each experiment's energy from its own GPU only, and a foreign process on the GPU during the window
making the experiment invalid."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hyperwatt.clock import SystemClock
from hyperwatt.sensors import GpuProcess, SensorSet
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor, constant

EXPERIMENTS = """
[[experiments]]
workload = "toy/net"
hyperparameters = { sleep = 0.4 }
mutate = { parameters = ["lr"], mutations = 8 }
"""


class PoweredGpus:
    """Fake GPUs whose constant power is 100 W x (index + 1), so an energy names its GPU."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.opened: list[FakeGpu] = []

    def __call__(self, plan):
        indices = plan.sensors.gpus if plan.sensors.gpus is not None else list(range(self.count))
        gpus = {i: FakeGpu(constant(100.0 * (i + 1)), clock=SystemClock()) for i in indices}
        self.opened = list(gpus.values())
        return SensorSet([FakeGpuSensor(g, index=i) for i, g in gpus.items()])


@pytest.mark.parametrize("count", [1, 2, 4])
def test_one_slot_per_gpu_and_energy_from_its_own_gpu(write_plan, run_toy, count):
    result = run_toy(write_plan(EXPERIMENTS), sensors_factory=PoweredGpus(count))
    records = result.records
    assert sorted(r.slot for r in records) == list(range(8)) and all(r.status == "succeeded" for r in records)
    used = {r.environment["slot"] for r in records}
    assert used <= {f"gpu{i}" for i in range(count)}
    if count > 1:
        assert len(used) > 1  # the slots shared the work
    for r in records:
        index = int(r.environment["slot"][3:])
        (gpu,) = [s for s in r.energy.sensors if s.domain == "gpu"]
        assert gpu.sensor == f"gpu{index}" and r.energy.gpu_energy_j == gpu.energy_j
        # the power it saw is its own GPU's (each fake GPU draws a different constant power)
        assert gpu.peak_power_w == pytest.approx(100.0 * (index + 1), rel=0.01)


def test_gpus_option_picks_the_slots(write_plan, run_toy):
    result = run_toy(write_plan(EXPERIMENTS), sensors_factory=PoweredGpus(4), gpus=[1, 3])
    assert {r.environment["slot"] for r in result.records} <= {"gpu1", "gpu3"}
    assert all(r.status == "succeeded" for r in result.records)


def test_a_foreign_process_on_the_gpu_makes_the_experiment_invalid(write_plan, run_toy):
    factory = PoweredGpus(1)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        plan = write_plan("""
            [preflight]
            gpu_busy = "ignore"
            [[experiments]]
            workload = "toy/net"
            hyperparameters = { sleep = 1.5 }
        """)

        def with_stranger(p):
            sensors = factory(p)
            # a pid this host cannot see (another PID namespace) is no evidence; a visible one is
            factory.opened[0].processes.extend([GpuProcess(stranger.pid, 900.0), GpuProcess(2**22 + 7, None)])
            return sensors

        result = run_toy(plan, sensors_factory=with_stranger)
    finally:
        stranger.kill()
        stranger.wait()
    (rec,) = result.records
    assert rec.status == "invalid"
    assert [s.split(":")[0] for s in rec.gpu_shared_with] == [f"pid {stranger.pid}"]
    assert "gpu_shared" in {f.code for f in rec.flags}


def test_an_own_gpu_process_is_not_foreign(write_plan, run_toy, toy_dir):
    factory = PoweredGpus(1)
    plan = write_plan("""
        [[experiments]]
        workload = "toy/net"
        hyperparameters = { sleep = 1.5 }
    """)
    seen: list[int] = []

    def own_pids_on_gpu(p):
        sensors = factory(p)
        gpu = factory.opened[0]

        class Tracking(list):  # the GPU lists whatever the training's own tree is
            def __iter__(self):
                from hyperwatt.process.proctable import snapshot

                mine = tuple(f"hw-{path.parent.name}-" for path in toy_dir.glob("results/*/*/experiment.json"))
                ours = [pid for pid, row in snapshot(read_tokens=True).items()
                        if mine and row.token and row.token.startswith(mine) and not row.zombie]
                seen.extend(ours)
                return iter([GpuProcess(pid, 100.0) for pid in ours])

        gpu.processes = Tracking()
        return sensors

    result = run_toy(plan, sensors_factory=own_pids_on_gpu)
    (rec,) = result.records
    assert seen and rec.gpu_shared_with == [] and rec.status == "succeeded"
