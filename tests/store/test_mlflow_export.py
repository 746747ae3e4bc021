"""MLflow export round trip with the real mlflow package: one run per experiment, read back with
mlflow.search_runs; exporting again adds nothing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from hyperwatt.store import open_store
from hyperwatt.store.mlflow_export import ID_TAG, export_mlflow

mlflow = pytest.importorskip("mlflow")


@pytest.fixture
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The full mlflow's default kind of store (SQLite); the file store where only mlflow-skinny
    (the test extra: no SQLAlchemy) is installed. MLflow's process-wide URI is restored afterwards."""
    from mlflow.tracking._tracking_service import utils

    monkeypatch.setattr(utils, "_tracking_uri", None)
    if importlib.util.find_spec("sqlalchemy") and importlib.util.find_spec("alembic"):
        return f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return (tmp_path / "mlruns").as_uri()


def test_each_experiment_becomes_one_run_and_a_second_export_adds_nothing(write_plan, run_toy, toy_dir, uri):
    result = run_toy(write_plan('''
[[experiments]]
workload = "toy/net"
include_default = true
hyperparameters = { epochs = 3 }
mutate = { parameters = ["lr"], mutations = 1 }
'''))
    # a per-epoch series in the metrics file of the first experiment (as a training that logs each epoch)
    first = result.records[0]
    metrics_file = result.layout.experiment(first.experiment_id).metrics_file(first.attempts[-1].number)
    metrics_file.write_text("".join(json.dumps({"epoch": e, "acc": 0.5 + e / 100, "loss": 1 / e}) + "\n"
                                    for e in (1, 2, 3)))
    records = open_store(toy_dir / "results", readonly=True).experiments()
    done = export_mlflow(records, toy_dir / "results", uri, "study")
    assert (done.logged, done.existing, done.tracking_uri) == (2, 0, uri)

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["study"], output_format="list")
    assert sorted(r.data.tags[ID_TAG] for r in runs) == sorted(r.experiment_id for r in records)
    by_id = {r.data.tags[ID_TAG]: r for r in runs}
    for rec in records:
        run = by_id[rec.experiment_id]
        assert run.data.params["lr"] == str(rec.hyperparameters["lr"])
        assert run.data.params["epochs"] == "3"
        assert run.data.tags["hyperwatt.workload"] == "toy/net"
        assert run.data.tags["hyperwatt.mode"] == "sequential"
        assert run.data.tags["hyperwatt.valid"] == str(rec.valid).lower()
        assert run.data.tags["hyperwatt.energy_method"]
        assert run.data.metrics["acc"] == pytest.approx(rec.metrics["acc"])
        assert run.data.metrics["duration_s"] == pytest.approx(rec.duration_s)
        assert run.info.status == "FINISHED"
        client = mlflow.tracking.MlflowClient(uri)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"experiment.json", "verification.md"} <= artifacts
    history = mlflow.tracking.MlflowClient(uri).get_metric_history(by_id[first.experiment_id].info.run_id, "loss")
    # the per-epoch series, then the value hyperwatt recorded as final (rewritten file: it differs here)
    assert {(h.step, round(h.value, 3)) for h in history} == {(1, 1.0), (2, 0.5), (3, 0.333), (3, first.metrics["loss"])}

    again = export_mlflow(records, toy_dir / "results", uri, "study")
    assert (again.logged, again.existing) == (0, 2)
    assert len(mlflow.search_runs(experiment_names=["study"], output_format="list")) == 2


def test_energy_of_every_sensor_is_a_metric(write_plan, run_toy, toy_dir, uri):
    from hyperwatt.records import SensorEnergy

    run_toy(write_plan('[[experiments]]\nworkload = "toy/net"\n'))
    store = open_store(toy_dir / "results")
    (rec,) = store.experiments()
    rec.energy.gpu_energy_j, rec.energy.gpu_net_energy_j, rec.energy.total_energy_j = 840.0, 600.0, 900.0
    rec.energy.sensors = [SensorEnergy(sensor="gpu0", domain="gpu", method="nvml-energy-counter", energy_j=840.0,
                                       net_energy_j=600.0, duration_s=9.0)]
    export_mlflow([rec], toy_dir / "results", uri, "energy")
    mlflow.set_tracking_uri(uri)
    (run,) = mlflow.search_runs(experiment_names=["energy"], output_format="list")
    m = run.data.metrics
    assert (m["energy_j"], m["gpu_energy_j"], m["gpu_net_energy_j"]) == (900.0, 840.0, 600.0)
    assert (m["energy_j.gpu0"], m["net_energy_j.gpu0"]) == (840.0, 600.0)
    assert run.data.tags["hyperwatt.energy_method"] == "nvml-energy-counter"


def test_without_mlflow_the_message_is_one_line(monkeypatch, tmp_path):
    import builtins

    from hyperwatt.errors import HyperwattError

    real = builtins.__import__

    def no_mlflow(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    with pytest.raises(HyperwattError) as info:
        export_mlflow([], tmp_path, None, "x")
    assert str(info.value) == "--format mlflow needs the mlflow package: pip install 'hyperwatt[mlflow]'"


def test_the_command_logs_to_mlflows_own_default_and_says_where(write_plan, run_toy, toy_dir, uri, monkeypatch):
    from typer.testing import CliRunner

    from hyperwatt.cli import app

    run_toy(write_plan('[[experiments]]\nworkload = "toy/net"\n'))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # MLflow's own default, as a user would set it
    first = CliRunner().invoke(app, ["export", "--format", "mlflow", "-o", str(toy_dir / "results")])
    assert first.exit_code == 0, first.output
    assert first.output.strip().splitlines()[-1] == f"1 run(s) logged, 0 already there -> MLflow experiment 'hyperwatt' at {uri}"
    again = CliRunner().invoke(app, ["export", "--format", "mlflow", "-o", str(toy_dir / "results")])
    assert "0 run(s) logged, 1 already there" in again.output
