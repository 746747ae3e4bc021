"""A background that never loads the GPU enough: the gate gives up after `readiness_runs` runs (not
the whole timeout), records the highest utilisation and each run's duration, and says what to change."""

from __future__ import annotations

import time

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from hyperwatt.sensors import SensorSet
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor
from tests.conftest import FAST_TIMING, TOY_WORKLOAD
from tests.engine.test_parallel import BG_SCRIPT, BG_WORKLOAD

PLAN = f'''
name = "weak"
seed = 1
{FAST_TIMING}
{TOY_WORKLOAD}
{BG_WORKLOAD.replace("readiness_timeout_s = 15", "readiness_timeout_s = 120")}
ready_samples = 3

[[experiments]]
workload = "toy/net"
mode = "parallel"
background = {{ workload = "bg/toy", hyperparameters = {{ run_s = 0.6 }} }}
'''


def test_a_weak_background_is_given_up_after_two_runs_with_what_to_change(toy_dir):
    (toy_dir / "bg.py").write_text(BG_SCRIPT)
    (toy_dir / "plan.toml").write_text(PLAN)
    sensors = SensorSet(sensors=[FakeGpuSensor(FakeGpu(power=120.0, util_pct=12.0), index=0)])
    opts = SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: sensors)
    t0 = time.monotonic()
    (rec,) = run_plan(load_plan(toy_dir / "plan.toml", Registry.builtin()), opts).records
    assert time.monotonic() - t0 < 60  # two 0.6 s runs, not the 120 s timeout
    readiness = rec.background.readiness
    assert not readiness.ready and rec.status == "invalid" and rec.attempts == []  # the foreground was not spent
    assert readiness.max_gpu_util_pct == 12.0 and readiness.gpu_util_pct == 12.0
    assert len(readiness.run_durations_s) == 2 and all(0.5 <= d < 30 for d in readiness.run_durations_s)
    assert readiness.waited_s < 60
    reason = readiness.reason
    assert "parallel.util_threshold_pct = 30%" in reason and "highest 12%" in reason
    assert "2 background run(s) ended" in reason
    assert "lower parallel.util_threshold_pct (below 12%" in reason
    assert "give the background more work per run" in reason and "choose another background workload" in reason
