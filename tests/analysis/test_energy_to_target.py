"""Energy to target from timed per-epoch records cut on the energy timeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperwatt.analysis.findings import FindingsOptions, findings
from hyperwatt.analysis.goals import registry_goals
from hyperwatt.analysis.rows import registry_defaults
from hyperwatt.records import Attempt, PhaseEnergy, Phases
from hyperwatt.store import SessionLayout

from .factories import record
from .test_plots import COLUMNS


def timed_run(results: Path, epochs: int, power_w: float, accuracies: list[float], counter: bool = True,
              mutated: tuple[str, ...] = ()):
    """A run whose GPU draws `power_w` from t = 1000 s; epoch k ends at 1000 + 2k s."""
    hp = {"epochs": epochs, "learning_rate": 0.02 if mutated else 0.01}
    r = record(hp=hp, mutated=mutated, gpu_j=power_w * 2 * epochs, duration_s=2.0 * epochs)
    r.attempts = [Attempt(number=1, argv=["x"], cwd=".", log="attempt-1/training.log", started_wall=1000.0,
                          succeeded=True)]
    r.energy.timeline = "energy/timeline.csv"
    exp = SessionLayout(results, r.session_id).experiment(r.experiment_id)
    exp.timeline.parent.mkdir(parents=True)
    rows = [f"gpu0,{i * 0.5},{1000 + i * 0.5},{power_w},,{power_w * i * 0.5 + 5000.0 if counter else ''},,,,,"
            for i in range(4 * epochs + 1)]
    exp.timeline.write_text(COLUMNS + "\n" + "\n".join(rows) + "\n")
    exp.metrics_file(1).parent.mkdir(parents=True)
    lines = [json.dumps({"epoch": k + 1, "train_accuracy": a, "t_wall": 1000.0 + 2 * (k + 1)})
             for k, a in enumerate(accuracies)]
    lines.append(json.dumps({"test_accuracy": accuracies[-1]}))  # the final record has no time
    exp.metrics_file(1).write_text("\n".join(lines) + "\n")
    return r


def run(records, results, **options):
    return findings(records, registry_defaults(), registry_goals(), FindingsOptions(**options), results)


def test_energy_per_epoch_and_to_the_default_quality(tmp_path: Path) -> None:
    base = timed_run(tmp_path, 5, 100.0, [0.5, 0.6, 0.7, 0.8, 0.9])
    fast = timed_run(tmp_path, 5, 100.0, [0.7, 0.85, 0.895, 0.9, 0.91], mutated=("learning_rate",))
    (g,) = run([base, fast], tmp_path).groups
    t = g.to_target
    assert t.metric == "train_accuracy" and t.goal == "max"
    assert t.target == pytest.approx(0.9 * 0.99) and "default setting" in t.target_source
    curves = {c.experiment_id: c for c in t.curves}
    b = curves[base.experiment_id]
    assert [p.cumulative_j for p in b.epochs] == pytest.approx([200, 400, 600, 800, 1000])
    assert [p.epoch_j for p in b.epochs] == pytest.approx([200] * 5)
    assert b.reached_j == pytest.approx(1000) and b.reached_epoch == 5
    assert curves[fast.experiment_id].reached_j == pytest.approx(600)  # 0.895 ≥ 0.891 at epoch 3


def test_given_target_and_power_integration_without_a_counter(tmp_path: Path) -> None:
    r = timed_run(tmp_path, 4, 50.0, [0.5, 0.6, 0.7, 0.8], counter=False)
    (g,) = run([r], tmp_path, targets={"train_accuracy": 0.7}).groups
    (c,) = g.to_target.curves
    assert g.to_target.target_source == "given" and c.reached_j == pytest.approx(300) and c.reached_epoch == 3


def test_never_reached_and_rows_without_epochs(tmp_path: Path) -> None:
    r = timed_run(tmp_path, 3, 100.0, [0.1, 0.2, 0.3])
    other = record(hp={"epochs": 3}, gpu_j=100.0)
    (g,) = run([r, other], tmp_path, targets={"train_accuracy": 0.99}).groups
    (c,) = g.to_target.curves
    assert c.reached_j is None and g.to_target.missing == {"no per-epoch metrics": 1}


def test_epochs_energy_from_the_records_phases(tmp_path: Path) -> None:
    """Phases marked with epochs (issue 24's slices) give the energy; no epoch times needed."""
    r = timed_run(tmp_path, 3, 100.0, [0.5, 0.8, 0.9])
    exp = SessionLayout(tmp_path, r.session_id).experiment(r.experiment_id)
    exp.metrics_file(1).write_text("\n".join(json.dumps({"epoch": k + 1, "train_accuracy": a})
                                             for k, a in enumerate([0.5, 0.8, 0.9])) + "\n")
    slices = [PhaseEnergy(phase="startup", start_s=0.0, duration_s=1.0, gpu_energy_j=50.0)]
    for k in (1, 2, 3):
        slices.append(PhaseEnergy(phase="train", epoch=k, start_s=k, duration_s=1.0, gpu_energy_j=100.0))
        slices.append(PhaseEnergy(phase="evaluation", epoch=k, start_s=k + 0.5, duration_s=0.5, gpu_energy_j=10.0))
    r.phases = Phases(marked=True, source="metrics-file", slices=slices)
    (g,) = run([r], tmp_path, targets={"train_accuracy": 0.8}).groups
    (c,) = g.to_target.curves
    assert g.to_target.sources == {"phases": 1}
    assert [p.cumulative_j for p in c.epochs] == pytest.approx([160, 270, 380])
    assert [p.epoch_j for p in c.epochs] == pytest.approx([110, 110, 110])
    assert c.reached_j == pytest.approx(270) and c.reached_epoch == 2
