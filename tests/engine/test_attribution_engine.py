"""Parallel attribution with a fake GPU: the background is measured alone after the readiness gate;
the marginal energy carries that measurement's bound; a background whose power drifts between the
alone window and the foreground's window yields a flagged marginal, never a silent negative."""

from __future__ import annotations

import time

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from hyperwatt.sensors import SensorSet
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor, PiecewiseLinear
from tests.conftest import FAST_TIMING, TOY_WORKLOAD
from tests.engine.test_parallel import BG_SCRIPT, BG_WORKLOAD

PLAN = f'''
name = "attr"
seed = 1
{FAST_TIMING}
{TOY_WORKLOAD}
{BG_WORKLOAD}
ready_samples = 3
background_alone_s = 1.5

[[experiments]]
workload = "toy/net"
mode = "parallel"
hyperparameters = {{ sleep = 1.5 }}
background = {{ workload = "bg/toy" }}
'''


def _run(toy_dir, power):
    (toy_dir / "bg.py").write_text(BG_SCRIPT)
    (toy_dir / "plan.toml").write_text(PLAN)
    sensors = SensorSet(sensors=[FakeGpuSensor(FakeGpu(power=power, util_pct=90.0), index=0)])
    opts = SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: sensors)
    (rec,) = run_plan(load_plan(toy_dir / "plan.toml", Registry.builtin()), opts).records
    return rec


def test_a_steady_background_gives_a_marginal_not_distinguishable_from_zero(toy_dir):
    rec = _run(toy_dir, 400.0)  # the foreground adds nothing: the true marginal is 0
    assert rec.status == "succeeded", rec.status_reason
    alone = rec.background.alone
    assert alone is not None and alone.duration_s == pytest.approx(1.5, abs=0.5)
    assert alone.power_w == pytest.approx(400.0, rel=0.01) and alone.power_uncertainty_w is not None
    a = rec.energy.attribution
    assert a.background_alone_source.startswith("alone window of")
    assert a.device_energy_j == pytest.approx(400.0 * rec.energy.sensors[0].duration_s, rel=0.01)
    assert a.foreground_marginal_uncertainty_j is not None and a.background_alone_spread_w is not None
    lo = a.foreground_marginal_energy_j - a.foreground_marginal_uncertainty_j
    hi = a.foreground_marginal_energy_j + a.foreground_marginal_uncertainty_j
    assert lo <= 0.0 <= hi and a.foreground_marginal_verdict == "not distinguishable from 0"
    assert not any(f.code == "marginal_out_of_range" for f in rec.flags)


def test_a_background_that_drifts_after_its_alone_window_is_flagged_not_reported_as_a_saving(toy_dir):
    now = time.monotonic()
    # the background alone draws 437 W, then falls to 300 W within seconds: by the time the
    # foreground runs, the device draws far less than the background did alone
    rec = _run(toy_dir, PiecewiseLinear([(now, 437.0), (now + 3.0, 437.0), (now + 5.0, 300.0)]))
    a = rec.energy.attribution
    assert a.foreground_marginal_energy_j is not None and a.foreground_marginal_energy_j < 0
    if a.foreground_marginal_verdict != "not distinguishable from 0":
        assert a.foreground_marginal_verdict == "outside physical limits"
        flag = next(f for f in rec.flags if f.code == "marginal_out_of_range")
        assert flag.severity == "warning" and "below 0 beyond its uncertainty" in flag.message
        assert rec.status == "succeeded"  # the device total stays valid
