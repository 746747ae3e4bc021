"""History that counts: a plan that repeats imported settings shows them done and runs only the rest."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hyperwatt.config import Registry, TimingPolicy, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from hyperwatt.errors import ConfigError
from hyperwatt.importing import import_paths
from hyperwatt.importing.history import import_history, plan_history
from hyperwatt.mutation import expand, occurrence_indices

from tests.conftest import TOY_TRAIN, TOY_WORKLOAD
from tests.importing.seed_rows import sample, write

FAST = {"idle_baseline_s": 0, "retries": 0, "retry_delay_s": 0, "cooldown": {"min_s": 0, "max_s": 0}}


@pytest.fixture
def seed_project(tmp_path: Path) -> Path:
    """A seed checkout: data/raw_data.csv with two toy runs, settings/ repeating them and one new setting."""
    (tmp_path / "train.py").write_text(TOY_TRAIN)
    (tmp_path / "toy.toml").write_text(TOY_WORKLOAD)
    header, rows = sample()
    base = {k: "" for k in header}
    runs = []
    for i, epochs in enumerate(["1", "3.0"]):  # "3.0": the seed wrote integers as floats too
        runs.append({**base, "experiment_id": f"toy_net_00{i}", "timestamp": f"2025-11-2{i}T10:00:00.5",
                     "repository": "toy", "model": "net", "training_success": "True", "duration_seconds": "1.5",
                     "retries": "0", "hyperparam_epochs": epochs, "energy_gpu_total_joules": "10.5",
                     "energy_cpu_pkg_joules": "2.25", "perf_accuracy": "0.9"})
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "raw_data.csv", header, runs)
    (tmp_path / "settings").mkdir()
    settings = {"experiment_name": "again", "mode": "default", "use_deduplication": True,
                "historical_csvs": ["data/raw_data.csv"],
                "experiments": [{"repo": "toy", "model": "net", "hyperparameters": {"epochs": e}} for e in (1, 3, 4)]}
    (tmp_path / "settings" / "again.json").write_text(json.dumps(settings))
    return tmp_path


def _registry(root: Path) -> Registry:
    registry = Registry.builtin()
    registry.add_file(root / "toy.toml")
    return registry


def test_plan_shows_what_the_history_holds_without_writing(seed_project):
    loaded = load_plan(seed_project / "settings" / "again.json", _registry(seed_project))
    assert loaded.historical_csvs == (seed_project / "data" / "raw_data.csv",) and not loaded.missing_csvs
    planned = expand(loaded).experiments
    history = plan_history(loaded, seed_project / "results", [pe.key_hash for pe in planned])
    states = [history.state(pe.key_hash, n) for pe, n in zip(planned, occurrence_indices(planned))]
    # epochs "3.0" in the CSV is the int 3 the plan asks for: typed keys match (the seed's float keys did not)
    assert states == ["done (imported)", "done (imported)", None]
    assert not (seed_project / "results").exists()


def test_run_imports_the_history_and_runs_only_the_rest(seed_project):
    loaded = load_plan(seed_project / "settings" / "again.json", _registry(seed_project))
    loaded = dataclasses.replace(loaded, plan=loaded.plan.model_copy(update={"timing": TimingPolicy(**FAST)}))
    results = seed_project / "results"
    report = import_history(loaded, results)
    assert report is not None and report.imported == 2
    result = run_plan(loaded, SessionOptions(results_dir=results, sensors_factory=lambda p: None))
    assert result.skipped == 2 and [r.hyperparameters["epochs"] for r in result.records] == [4]
    assert import_history(loaded, results).imported == 0  # idempotent
    planned = expand(loaded).experiments
    history = plan_history(loaded, results, [pe.key_hash for pe in planned])
    assert [history.state(pe.key_hash, 0) for pe in planned] == ["done (imported)", "done (imported)",
                                                                   "done (in store)"]


def test_missing_history_is_refused_for_a_run(seed_project):
    (seed_project / "data" / "raw_data.csv").unlink()
    loaded = load_plan(seed_project / "settings" / "again.json", _registry(seed_project))
    assert loaded.missing_csvs == ("data/raw_data.csv",)
    assert any("historical CSVs not found" in n for n in loaded.notes)
    with pytest.raises(ConfigError) as info:
        import_history(loaded, seed_project / "results")
    assert info.value.key == "historical_csvs" and "data/raw_data.csv" in info.value.reason
    with pytest.raises(ConfigError, match="--strict"):
        load_plan(seed_project / "settings" / "again.json", _registry(seed_project), strict=True)


def test_imported_history_dedups_a_toml_plan_too(seed_project):
    import_paths([seed_project / "data" / "raw_data.csv"], seed_project / "results", _registry(seed_project))
    (seed_project / "plan.toml").write_text(
        '[[experiments]]\nworkload = "toy/net"\nhyperparameters = { epochs = 3 }\n')
    loaded = load_plan(seed_project / "plan.toml", _registry(seed_project))
    (pe,) = expand(loaded).experiments
    assert plan_history(loaded, seed_project / "results", [pe.key_hash]).state(pe.key_hash, 0) == "done (imported)"


def test_cli_plan_lists_done_experiments(seed_project):
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "hyperwatt", "plan", "settings/again.json", "-W", "toy.toml"],
                          cwd=seed_project, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("done (imported)") == 2 and "3 experiments, 1 to run, 2 skipped" in proc.stdout
