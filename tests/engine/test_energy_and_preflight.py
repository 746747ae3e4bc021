"""The engine with a fake GPU: window energy lands in the record, a sensor fault marks it partial,
cooldown and the session's idle reference, and preflight refusals before anything starts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from hyperwatt.errors import PreflightError
from hyperwatt.sensors import SensorSet
from hyperwatt.sensors.fake import FakeError, FakeGpu, FakeGpuSensor
from hyperwatt.sensors.records import GpuProcess


def _run(plan_path, toy_dir, gpu: FakeGpu, **options):
    loaded = load_plan(plan_path, Registry.builtin())
    sensors = SensorSet(sensors=[FakeGpuSensor(gpu, index=0)])
    opts = SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda plan: sensors, **options)
    return run_plan(loaded, opts)


def test_gpu_energy_of_the_window_is_recorded(write_plan, toy_dir):
    plan = write_plan('[[experiments]]\nworkload = "toy/net"\nhyperparameters = { sleep = 1.0 }\n')
    result = _run(plan, toy_dir, FakeGpu(power=150.0))
    (rec,) = result.records
    e = rec.energy
    assert rec.status == "succeeded" and e.available
    assert e.gpu_energy_j == pytest.approx(150.0 * e.duration_s, rel=0.02)
    assert e.gpu_uncertainty_j is not None and e.gpu_uncertainty_j < 0.05 * e.gpu_energy_j
    gpu = next(s for s in e.sensors if s.domain == "gpu")
    assert gpu.method == "nvml-energy-counter" and gpu.sample_count > 5
    assert gpu.update_period_s == pytest.approx(0.1, rel=0.1)
    assert (result.layout.dir / rec.experiment_id / "energy" / "timeline.csv").read_text().count("gpu0") > 5
    assert rec.environment["slot"] == "gpu0"


def test_a_sensor_fault_mid_run_keeps_the_experiment_and_marks_energy_partial(write_plan, toy_dir):
    plan = write_plan('[[experiments]]\nworkload = "toy/net"\nhyperparameters = { sleep = 2.5 }\n')
    now = time.monotonic()
    gpu = FakeGpu(power=100.0, errors=[FakeError(now + 1.5, now + 1e9, "GPU is lost")])
    (rec,) = _run(plan, toy_dir, gpu).records
    assert rec.status == "succeeded"  # the training is not the victim of a sensor
    assert rec.energy.partial and "GPU is lost" in (rec.energy.sensors[0].reason or "")
    assert any(f.code == "energy_partial" for f in rec.flags)


def test_busy_gpu_is_refused_before_anything_runs(write_plan, toy_dir):
    plan = write_plan('[[experiments]]\nworkload = "toy/net"\n')
    gpu = FakeGpu(power=60.0)
    gpu.processes = [GpuProcess(pid=999_999, used_memory_mib=5500.0)]
    with pytest.raises(PreflightError, match=r"gpu0 is busy with foreign processes: pid 999999 \(5500 MiB\)"):
        _run(plan, toy_dir, gpu)
    db_records = list((toy_dir / "results").glob("*/*/experiment.json"))
    assert db_records == []


def test_busy_gpu_ignored_by_policy_runs_with_a_note(write_plan, toy_dir):
    plan = write_plan('[preflight]\ngpu_busy = "ignore"\n[[experiments]]\nworkload = "toy/net"\n')
    gpu = FakeGpu(power=60.0)
    gpu.processes = [GpuProcess(pid=999_999, used_memory_mib=None)]
    notes = []

    class Events:
        def __getattr__(self, name):
            return lambda *a, **k: notes.append(a[0]) if name == "message" else None

    loaded = load_plan(plan, Registry.builtin())
    sensors = SensorSet(sensors=[FakeGpuSensor(gpu, index=0)])
    result = run_plan(loaded, SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: sensors),
                      Events())
    assert result.records[0].status == "succeeded"
    assert any("busy" in n and "ignore" in n for n in notes)


def test_unwritable_results_dir_and_missing_script_are_refused(write_plan, toy_dir, tmp_path):
    plan = write_plan('[[experiments]]\nworkload = "toy/net"\n')
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(PreflightError, match=f"cannot be created: {blocked} is a file, not a folder"):
        run_plan(load_plan(plan, Registry.builtin()),
                 SessionOptions(results_dir=blocked / "results", sensors_factory=lambda p: None))
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop")
    with pytest.raises(PreflightError, match=f"{loop}: is a symbolic link to .* that leads to no folder"):
        run_plan(load_plan(plan, Registry.builtin()),
                 SessionOptions(results_dir=loop, sensors_factory=lambda p: None))
    # `-o FILE` said "not writable (File exists)": the file is named as what it is
    with pytest.raises(PreflightError, match=f"{blocked}: is a file, not a folder"):
        run_plan(load_plan(plan, Registry.builtin()),
                 SessionOptions(results_dir=blocked, sensors_factory=lambda p: None))
    (toy_dir / "missing.toml").write_text(
        '[workloads."x/y"]\nargv = ["./nope.sh"]\nworkdir = "."\n[[experiments]]\nworkload = "x/y"\n')
    with pytest.raises(PreflightError, match="nope.sh does not exist"):
        run_plan(load_plan(toy_dir / "missing.toml", Registry.builtin()),
                 SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: None))


def test_a_bare_script_name_is_looked_up_on_the_trainings_path_with_a_hint(tmp_path):
    from hyperwatt.engine.preflight import check_workloads

    (tmp_path / "train.sh").write_text("#!/bin/sh\necho hi\n")
    (tmp_path / "train.sh").chmod(0o755)
    from hyperwatt.config import load_registry

    def check(table: str) -> None:
        (tmp_path / "w.toml").write_text(f'[workloads."x/y"]\nworkdir = "."\n{table}\n')
        check_workloads([load_registry([tmp_path / "w.toml"]).get("x/y")], "python")

    with pytest.raises(PreflightError) as info:
        check('argv = ["train.sh"]')
    assert "'train.sh' is not on PATH (there is a file 'train.sh' in" in str(info.value)
    assert 'write "./train.sh" for it' in str(info.value)
    check('argv = ["./train.sh"]')
    # the workload's own PATH is where the training's program is looked up
    bindir = tmp_path / "venv" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "mytrain").write_text("#!/bin/sh\n")
    (bindir / "mytrain").chmod(0o755)
    check(f'argv = ["mytrain"]\nenv = {{ PATH = "{bindir}" }}')
    with pytest.raises(PreflightError, match="'mytrain' is not on PATH$"):
        check('argv = ["mytrain"]')


BURN = '''
import subprocess, sys, time
def burn(s):
    end = time.process_time() + s
    while time.process_time() < end:
        pass
child = subprocess.Popen([sys.executable, "-c", "import time\\nend = time.process_time() + 0.3\\nwhile time.process_time() < end: pass"])
burn(0.2)
child.wait()
print("Test Accuracy: 90.0%")
'''


def test_cpu_estimate_counts_the_whole_trees_cpu_time_exactly(write_plan, toy_dir):
    """The kernel's accounting at the reap: the child's 0.3 s and the parent's 0.2 s, even though
    the run is shorter than two reads of the sampled estimate."""
    from hyperwatt.sensors.estimate import CpuEstimateSensor

    (toy_dir / "burn.py").write_text(BURN)
    plan = write_plan('''
[workloads."toy/burn"]
argv = ["{python}", "burn.py"]
workdir = "."
[workloads."toy/burn".metrics]
patterns = { test_accuracy = { regex = "Test Accuracy: ([0-9.]+)%", scale = 0.01 } }
[[experiments]]
workload = "toy/burn"
''')
    sensors = SensorSet(sensors=[CpuEstimateSensor(cpu_tdp_w=20.0, logical_cpus=2)])  # 10 W per busy CPU
    opts = SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda plan: sensors)
    (rec,) = run_plan(load_plan(plan, Registry.builtin()), opts).records
    cpu_s = rec.attempts[-1].cpu_time_s
    assert rec.status == "succeeded" and cpu_s is not None and 0.5 <= cpu_s < 1.5
    cpu = next(s for s in rec.energy.sensors if s.domain == "cpu")
    assert cpu.method == "cpu-time-estimate" and not cpu.partial
    assert cpu.energy_j == pytest.approx(10.0 * cpu_s)
    assert cpu.uncertainty_j == pytest.approx(0.5 * cpu.energy_j)


def test_a_dead_sampler_thread_invalidates_the_experiment(write_plan, toy_dir, monkeypatch):
    from hyperwatt.sensors.monitor import Monitor

    tick, calls = Monitor._tick, {"n": 0}

    def dying_tick(self, now):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("sampler bug")
        return tick(self, now)

    monkeypatch.setattr(Monitor, "_tick", dying_tick)
    plan = write_plan('[[experiments]]\nworkload = "toy/net"\nhyperparameters = { sleep = 0.5 }\n')
    (rec,) = _run(plan, toy_dir, FakeGpu(power=150.0)).records
    assert rec.energy.sampler_error == "RuntimeError('sampler bug')"
    assert rec.status == "invalid" and any(f.code == "sampler_died" and f.severity == "error" for f in rec.flags)


def test_a_python_script_missing_from_the_trainings_folder_is_refused_before_any_run(tmp_path, monkeypatch):
    """`argv = ["{python}", "train.py"]` without a workdir runs in hyperwatt's current folder: a plan
    run from elsewhere failed every attempt of every experiment with "can't open file"."""
    study = tmp_path / "study"
    study.mkdir()
    (study / "train.py").write_text("print('acc 1')\n")
    (study / "plan.toml").write_text('[workloads."lab/x"]\nargv = ["{python}", "train.py"]\n'
                                     '[[experiments]]\nworkload = "lab/x"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PreflightError) as info:
        run_plan(load_plan(Path("study/plan.toml"), Registry.builtin()),
                 SessionOptions(results_dir=tmp_path / "results", sensors_factory=lambda p: None))
    line = str(info.value)
    assert "workloads.\"lab/x\".argv: script 'train.py' not found in" in line, line
    assert 'set workdir = "." in plan.toml' in line, line
    assert not list((tmp_path / "results").glob("*/plan.toml"))  # no session was started
