"""Phases of a window with a fake GPU on a fake clock: sliced at the markers, bounded, adding up to
the window; missing, out-of-order and late markers; a third-party log's lines as markers."""

from __future__ import annotations

import pytest

from hyperwatt.clock import FakeClock
from hyperwatt.config import MetricsSpec
from hyperwatt.engine.phases import NO_MARKERS, Window, collect_markers, log_markers, measure_phases
from hyperwatt.process.logstream import LogTimes
from hyperwatt.records import PhaseMarker
from hyperwatt.sensors import IdleBaseline, Monitor, SensorSet
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor, PiecewiseLinear

T0, T1 = 104.0, 114.0
# start-up 120 W to 106, two training epochs at 600 W to 108.5 and 111, evaluation 300 W, teardown 100 W
POWER = PiecewiseLinear([(0.0, 70.0), (T0, 70.0), (T0, 120.0), (106.0, 120.0), (106.0, 600.0), (111.0, 600.0),
                         (111.0, 300.0), (113.0, 300.0), (113.0, 100.0), (T1, 100.0), (T1, 70.0)])
IDLE_W = 70.0


def _measured(power=POWER, t0=T0, t1=T1):
    clock = FakeClock(start=100.0)
    gpu = FakeGpu(power, clock=clock, counter_read_cost_s=0.0035, phase_s=0.037)
    monitor = Monitor(SensorSet([FakeGpuSensor(gpu)]), rate_hz=20.0, clock=clock)
    monitor.run_for(t0 - clock.monotonic())
    monitor.sample_now()
    monitor.run_for(t1 - clock.monotonic())
    monitor.sample_now()
    monitor.run_for(2.0)
    estimates = monitor.measure(t0, t1)
    window = Window(t0, t1, clock._epoch + t0)
    return monitor, gpu, estimates, window


def _marker(window: Window, t_mono: float, phase: str, epoch=None, samples=None, source="metrics-file"):
    return PhaseMarker(phase=phase, t_wall=window.t0_wall + (t_mono - window.t0_mono), epoch=epoch, samples=samples,
                       source=source)


def _phases(markers, **kw):
    monitor, gpu, estimates, window = _measured(**kw)
    baseline = {"gpu0": IdleBaseline("gpu0", IDLE_W, 0.5, 35.0, 5.0, 50)}
    phases = measure_phases(markers(window), [], window, monitor.slicers(window.t0_mono, window.t1_mono),
                            {n: e.energy_j for n, e in estimates.items()}, baseline, 0)
    return phases, gpu, estimates["gpu0"]


def _builtin_markers(w):
    return [_marker(w, 106.0, "train", 1, 60000), _marker(w, 108.5, "train", 2, 60000),
            _marker(w, 111.0, "evaluation"), _marker(w, 113.0, "teardown")]


def test_phases_are_sliced_at_the_markers_and_each_holds_its_bound():
    phases, gpu, window = _phases(_builtin_markers)
    assert phases.marked and phases.source == "metrics-file" and phases.reason is None
    assert [(s.phase, s.epoch) for s in phases.slices] == [
        ("startup", None), ("train", 1), ("train", 2), ("evaluation", None), ("teardown", None)]
    edges = [T0, 106.0, 108.5, 111.0, 113.0, T1]
    for (a, b), s in zip(zip(edges, edges[1:]), phases.slices):
        truth = gpu.true_energy_j(a, b)
        assert s.duration_s == pytest.approx(b - a)
        assert s.start_s == pytest.approx(a - T0)
        assert abs(s.gpu_energy_j - truth) <= s.gpu_uncertainty_j, s.phase
        assert s.gpu_net_energy_j == pytest.approx(s.gpu_energy_j - IDLE_W * (b - a))
    train = phases.total("train")
    assert train is not None and train.duration_s == pytest.approx(5.0)
    assert abs(train.gpu_energy_j - gpu.true_energy_j(106.0, 111.0)) <= train.gpu_uncertainty_j
    assert train.gpu_energy_j == pytest.approx(3000.0, rel=0.01)
    # contiguous epochs: one bound for the run, not the sum of the epochs' bounds
    assert train.gpu_uncertainty_j < sum(s.gpu_uncertainty_j for s in phases.slices if s.phase == "train")
    assert phases.train_epochs == 2 and phases.train_samples == 120000 and train.samples == 120000


def test_phase_sums_equal_the_window():
    phases, _, window = _phases(_builtin_markers)
    assert sum(s.gpu_energy_j for s in phases.slices) == pytest.approx(window.energy_j, abs=1e-6)
    assert sum(t.gpu_energy_j for t in phases.totals) == pytest.approx(window.energy_j, abs=1e-6)
    assert sum(s.duration_s for s in phases.slices) == pytest.approx(T1 - T0)
    # the slices' bounds together cover at least the window's
    assert sum(s.gpu_uncertainty_j for s in phases.slices) >= window.uncertainty_j


def test_without_markers_the_record_says_so_and_holds_the_whole_window():
    phases, gpu, window = _phases(lambda w: [])
    assert not phases.marked and phases.reason == NO_MARKERS and phases.markers == []
    (only,) = phases.slices
    assert only.phase == "window" and only.duration_s == pytest.approx(T1 - T0)
    assert only.gpu_energy_j == pytest.approx(window.energy_j, abs=1e-9)
    assert phases.total("train") is None and phases.train_epochs is None


def test_markers_out_of_order_are_taken_in_time_order():
    phases, _, _ = _phases(lambda w: list(reversed(_builtin_markers(w))))
    assert any("out of order" in n for n in phases.notes)
    assert [s.phase for s in phases.slices] == ["startup", "train", "train", "evaluation", "teardown"]


def test_markers_past_the_window_or_long_before_it_are_ignored_with_a_note():
    def markers(w):
        return [_marker(w, 90.0, "train", 0), *_builtin_markers(w)[:3], _marker(w, T1 + 5.0, "teardown")]

    phases, gpu, window = _phases(markers)
    assert [s.phase for s in phases.slices] == ["startup", "train", "train", "evaluation"]
    assert any("past the window's end" in n for n in phases.notes)
    assert any("before the window started" in n for n in phases.notes)
    assert phases.slices[-1].duration_s == pytest.approx(T1 - 111.0)  # evaluation runs to the window's end
    assert sum(s.gpu_energy_j for s in phases.slices) == pytest.approx(window.energy_j, abs=1e-6)


def test_a_marker_at_the_window_start_replaces_the_implicit_startup_and_repeats_merge():
    def markers(w):
        return [_marker(w, T0 - 0.2, "train", 1), _marker(w, 106.0, "train", 1), _marker(w, 111.0, "evaluation")]

    phases, _, _ = _phases(markers)
    assert [(s.phase, s.epoch) for s in phases.slices] == [("train", 1), ("evaluation", None)]
    assert phases.slices[0].start_s == 0.0 and phases.slices[0].duration_s == pytest.approx(7.0)


def test_a_third_party_log_line_marks_a_phase_at_its_arrival_time(tmp_path):
    log = tmp_path / "training.log"
    lines = [(104.3, "loading data"), (106.0, "Train Epoch: 1 [0/60000]"), (107.0, "Train Epoch: 1 [6400/60000]"),
             (108.5, "\x1b[32mTrain Epoch: 2 [0/60000]\x1b[0m"), (111.0, "Evaluating..."),
             (112.9, "Test set: Average loss: 0.1, Accuracy: 98%")]
    times = LogTimes()
    with log.open("wb") as fh:
        for t, text in lines:
            data = (text + "\n").encode()
            fh.write(data)
            times.add(len(data), 1_700_000_000.0 + t)
    spec = MetricsSpec(phases={"train": r"^Train Epoch: (\d+)", "evaluation": "^Evaluating"})
    markers, problems = collect_markers(spec, tmp_path / "metrics.jsonl", log, times)
    assert problems == []
    assert [(m.phase, m.epoch, m.source) for m in markers] == [("train", 1, "log"), ("train", 2, "log"),
                                                               ("evaluation", None, "log")]
    assert [m.t_wall - 1_700_000_000.0 for m in markers] == pytest.approx([106.0, 108.5, 111.0])
    phases, gpu, window = _phases(lambda w: markers)
    assert phases.source == "log"
    train = phases.total("train")
    assert abs(train.gpu_energy_j - gpu.true_energy_j(106.0, 111.0)) <= train.gpu_uncertainty_j


def test_metrics_file_events_win_over_log_patterns(tmp_path):
    import json

    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(json.dumps({"event": "phase", "phase": "train", "epoch": 1, "t": 1.7e9}) + "\n")
    log = tmp_path / "training.log"
    log.write_text("Train Epoch: 1\n")
    spec = MetricsSpec(phases={"train": r"^Train Epoch: (\d+)"})
    markers, _ = collect_markers(spec, metrics, log, LogTimes())
    assert [m.source for m in markers] == ["metrics-file"]


def test_a_phase_pattern_without_arrival_times_is_a_problem(tmp_path):
    log = tmp_path / "training.log"
    log.write_text("Train Epoch: 1\n")
    markers, problems = log_markers(MetricsSpec(phases={"train": "^Train"}), log, LogTimes())
    assert markers == [] and "no arrival time" in problems[0]


PHASED_TRAIN = r'''
import sys, time
from hyperwatt.metricsfile import emit, phase
time.sleep(0.6)
for epoch in (1, 2):
    phase("train", epoch=epoch, samples=100)
    print(f"Train Epoch: {epoch}", flush=True)
    time.sleep(0.5)
phase("evaluation")
time.sleep(0.3)
emit(acc=0.9)
phase("teardown")
'''


@pytest.mark.parametrize("events", [True, False])
def test_an_experiment_records_its_phases(toy_dir, events):
    """The engine end to end on the real clock: phase events (or, for code that writes none, log
    lines) slice the recorded window, and the slices add up to the recorded energy."""
    from hyperwatt.config import Registry, load_plan
    from hyperwatt.engine import SessionOptions, run_plan
    from tests.conftest import FAST_TIMING

    script = PHASED_TRAIN if events else PHASED_TRAIN.replace("phase(", "(lambda *a, **k: None)(")
    (toy_dir / "phased.py").write_text(script)
    plan = toy_dir / "plan.toml"
    plan.write_text(f'''name = "phased"
{FAST_TIMING}
[workloads."toy/phased"]
argv = ["{{python}}", "phased.py"]
workdir = "."
env = {{ PYTHONPATH = "{PYTHONPATH}" }}
[workloads."toy/phased".metrics]
required = ["acc"]
phases = {{ train = "^Train Epoch: (\\\\d+)" }}
[[experiments]]
workload = "toy/phased"
''')
    sensors = SensorSet(sensors=[FakeGpuSensor(FakeGpu(power=150.0), index=0)])
    opts = SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: sensors)
    (rec,) = run_plan(load_plan(plan, Registry.builtin()), opts).records
    assert rec.status == "succeeded", rec.status_reason
    phases = rec.phases
    assert phases is not None and phases.marked
    expected = ["startup", "train", "train", "evaluation", "teardown"] if events else ["startup", "train", "train"]
    assert [s.phase for s in phases.slices] == expected
    assert phases.source == ("metrics-file" if events else "log")
    assert phases.train_epochs == 2 and phases.train_samples == (200 if events else None)
    assert sum(s.gpu_energy_j for s in phases.slices) == pytest.approx(rec.energy.gpu_energy_j, rel=1e-9)
    train = phases.total("train")
    assert 1.0 <= train.duration_s <= (3.0 if events else 6.0)  # two 0.5 s epochs (+ evaluation, exit: log)
    assert train.gpu_energy_j == pytest.approx(150.0 * train.duration_s, rel=0.05)


PYTHONPATH = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "src")


def test_a_recorded_window_that_differs_from_the_sampled_one_scales_the_slices():
    """The CPU-time estimate's window comes from the kernel's accounting: its slices are scaled to it."""
    monitor, _, estimates, window = _measured()
    sampled = estimates["gpu0"].energy_j
    slicers = monitor.slicers(window.t0_mono, window.t1_mono)
    phases = measure_phases(_builtin_markers(window), [], window, slicers, {"gpu0": 2 * sampled}, {}, 0)
    assert sum(s.gpu_energy_j for s in phases.slices) == pytest.approx(2 * sampled)
    unknown = measure_phases(_builtin_markers(window), [], window, slicers, {"gpu0": None}, {}, 0)
    assert all(s.gpu_energy_j is None for s in unknown.slices)
    other_gpu = measure_phases(_builtin_markers(window), [], window, slicers, {"gpu0": sampled}, {}, 1)
    assert all(s.sensors == [] and s.gpu_energy_j is None for s in other_gpu.slices)  # another slot's GPU


def test_a_training_marking_every_step_is_capped(monkeypatch):
    from hyperwatt.engine import phases as phases_mod

    monkeypatch.setattr(phases_mod, "MAX_SLICES", 4)
    window = Window(T0, T1, 1_700_000_000.0 + T0)
    markers = [_marker(window, 105.0 + 0.5 * k, "train", k + 1) for k in range(8)]
    cuts, used, notes = phases_mod.plan_slices(markers, window)
    assert len(cuts) == 4 and [c.epoch for c in cuts[1:]] == [1, 2, 3]
    assert any("more than 4 phase slices" in n for n in notes)
