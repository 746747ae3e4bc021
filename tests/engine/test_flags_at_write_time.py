"""Flags complete at write time: every check runs after every field it reads is set, so
`hyperwatt verify` on a freshly written session changes nothing, whatever the outcome."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from hyperwatt.engine.reverify import reverify
from hyperwatt.records import ENERGY_PENDING
from hyperwatt.sensors import SensorSet
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor
from tests.conftest import TOY_WORKLOAD
from tests.engine.test_parallel import BG_SCRIPT, BG_WORKLOAD

COOLDOWN = '''
[timing]
idle_baseline_s = 0.3
retries = 0
[timing.cooldown]
min_s = 0
max_s = 0.6
stable_samples = 2
'''


def _session(toy_dir: Path, body: str, interrupt_after_s: float | None = None):
    (toy_dir / "bg.py").write_text(BG_SCRIPT)
    plan = toy_dir / "plan.toml"
    # BG_WORKLOAD ends in its [parallel] table: a short background-alone window keeps the test quick
    plan.write_text(f'name = "toy"\nseed = 7\n{TOY_WORKLOAD}\n{BG_WORKLOAD}background_alone_s = 1.0\n{body}')
    start = time.monotonic()
    # the GPU keeps warming: a cooldown never gets back to the idle temperature and gives up
    gpu = FakeGpu(power=200.0, util_pct=90.0, temp_c=lambda t: 40.0 + 5.0 * max(0.0, t - start))
    sensors = SensorSet(sensors=[FakeGpuSensor(gpu, index=0)])
    opts = SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: sensors)
    timer = None
    if interrupt_after_s is not None:
        timer = threading.Timer(interrupt_after_s, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
    try:
        return run_plan(load_plan(plan, Registry.builtin()), opts)
    finally:
        if timer is not None:
            timer.cancel()


def _on_disk(result) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in result.layout.dir.glob("*/experiment.json")}


OUTCOMES = {
    "succeeded, then a cooldown that gives up": '''
[[experiments]]
workload = "toy/net"
repeats = 2
''',
    "failed": '''
[[experiments]]
workload = "toy/net"
hyperparameters = { exit_code = 3 }
''',
    "background ineffective (foreground never run)": '''
[[experiments]]
workload = "toy/net"
mode = "parallel"
background = { workload = "bg/toy", hyperparameters = { behaviour = "unimplemented" } }
''',
    "parallel with low coverage": '''
[[experiments]]
workload = "toy/net"
mode = "parallel"
hyperparameters = { sleep = 2.5 }
background = { workload = "bg/toy", hyperparameters = { behaviour = "crash", run_s = 0.8 } }
''',
}


@pytest.mark.parametrize("name", list(OUTCOMES))
def test_verify_on_a_fresh_session_changes_nothing(toy_dir, name):
    result = _session(toy_dir, COOLDOWN + OUTCOMES[name])
    written = _on_disk(result)
    assert written and all(r["energy"]["reason"] != ENERGY_PENDING for r in written.values())
    _, records, changed = reverify(toy_dir / "results", result.session_id)
    assert changed == 0, [(r.experiment_id, r.status, [f.code for f in r.flags]) for r in records]
    assert _on_disk(result) == written


def test_a_cooldown_that_gives_up_is_flagged_in_the_record_as_written(toy_dir):
    result = _session(toy_dir, COOLDOWN + OUTCOMES["succeeded, then a cooldown that gives up"])
    first = min(_on_disk(result).values(), key=lambda r: r["slot"])
    assert first["cooldown"] is not None and first["cooldown"]["reached"] is False
    flag = next(f for f in first["flags"] if f["code"] == "cooldown_not_reached")
    assert flag["severity"] == "warning" and "gpu0" in flag["message"]
    assert "cooldown_not_reached" in (result.layout.summary.read_text())


def test_an_interrupted_session_is_written_whole_and_verify_changes_nothing(toy_dir):
    body = COOLDOWN + '[[experiments]]\nworkload = "toy/net"\nhyperparameters = { sleep = 30.0 }\n'
    result = _session(toy_dir, body, interrupt_after_s=2.0)
    (rec,) = _on_disk(result).values()
    assert rec["status"] == "interrupted"
    assert rec["energy"]["reason"] != ENERGY_PENDING
    _, _, changed = reverify(toy_dir / "results", result.session_id)
    assert changed == 0
    text = result.layout.verification.read_text()
    assert "| foreground trainings succeeded | 0/0, 1 not measured |" in text


def test_a_finished_record_never_says_not_measured_yet(write_plan, toy_dir, run_toy):
    plan = write_plan('[[experiments]]\nworkload = "toy/net"\n')
    (rec,) = run_toy(plan).records  # no sensors at all
    assert not rec.energy.available and rec.energy.reason == "no energy sensor: the session ran without sensors"
