"""Export experiments to MLflow: one run per experiment, idempotent.

Params are the hyperparameters; metrics the training's metrics, energy (total, net, per sensor)
and the per-epoch series of its metrics file; tags the workload, mode, validity and energy method;
artifacts experiment.json, the session's verification.md and energy/timeline.csv. Every run is
tagged with its experiment id, and an experiment already exported (a finished run with that tag)
is skipped, so exporting again adds nothing. mlflow is an extra: `pip install 'hyperwatt[mlflow]'`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperwatt.errors import HyperwattError
from hyperwatt.metricsfile import EVENT_KEY, PROGRESS_KEYS, loads
from hyperwatt.records import FINAL_STATUSES, ExperimentRecord
from hyperwatt.store.files import SessionLayout

ID_TAG = "hyperwatt.experiment_id"
#: MLflow's limit on a param value
PARAM_CHARS = 6000
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass(frozen=True)
class MlflowExport:
    tracking_uri: str
    experiment: str
    logged: int
    existing: int


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise HyperwattError("--format mlflow needs the mlflow package: pip install 'hyperwatt[mlflow]'") from None
    return mlflow


def export_mlflow(records: list[ExperimentRecord], results_dir: Path, tracking_uri: str | None,
                  experiment: str) -> MlflowExport:
    """Log each finished experiment as an MLflow run in `experiment` (created if absent); skip those
    already there. `tracking_uri` None: MLflow's own default (MLFLOW_TRACKING_URI, else its local store)."""
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    uri = tracking_uri or mlflow.get_tracking_uri()
    try:
        return _export(records, results_dir, uri, experiment)
    except MlflowException as exc:
        first = (str(exc).strip().splitlines() or ["no message"])[0]
        raise HyperwattError(f"MLflow at {uri}: {first}") from None
    except ImportError as exc:  # mlflow-skinny alone has no SQL store
        raise HyperwattError(f"MLflow at {uri} needs {exc.name or 'a missing module'}: "
                             "pip install 'hyperwatt[mlflow]'") from None


def _export(records: list[ExperimentRecord], results_dir: Path, uri: str, experiment: str) -> MlflowExport:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    exp_id = found.experiment_id if found is not None else client.create_experiment(experiment)
    done = _exported(client, exp_id)
    logged = existing = 0
    for record in records:
        if record.status not in FINAL_STATUSES:
            continue
        if record.experiment_id in done:
            existing += 1
            continue
        layout = SessionLayout(results_dir, record.session_id)
        run = client.create_run(exp_id, start_time=_ms(record.started_wall), tags=_tags(record),
                                run_name=f"{record.workload} {record.label} #{record.repeat_index + 1}")
        rid = run.info.run_id
        stamp = _ms(record.ended_wall or record.started_wall) or 0
        params = [Param(k, str(v)[:PARAM_CHARS]) for k, v in sorted(record.hyperparameters.items())]
        series = _series(layout, record)
        last = {k: (v, step) for k, v, step in series}  # a series' last value is the final one
        metrics = [Metric(k, v, stamp, step) for k, v, step in series]
        metrics += [Metric(k, v, stamp, last[k][1] if k in last else 0) for k, v in _metrics(record).items()
                    if k not in last or last[k][0] != v]
        for i in range(0, len(params), 100):  # MLflow's batch limits
            client.log_batch(rid, params=params[i:i + 100])
        for i in range(0, len(metrics), 900):
            client.log_batch(rid, metrics=metrics[i:i + 900])
        exp_dir = layout.experiment(record.experiment_id)
        for path in (exp_dir.record, layout.verification, exp_dir.timeline):
            if path.is_file():
                client.log_artifact(rid, str(path))
        client.set_terminated(rid, "FINISHED" if record.status == "succeeded" else "FAILED",
                              end_time=_ms(record.ended_wall))
        logged += 1
    return MlflowExport(uri, experiment, logged, existing)


def _exported(client: Any, exp_id: str) -> set[str]:
    """Experiment ids already exported. A run left unfinished by an interrupted export is deleted
    (it is logged again)."""
    out: set[str] = set()
    token = None
    while True:
        page = client.search_runs([exp_id], filter_string=f"tags.`{ID_TAG}` != ''", max_results=1000,
                                  page_token=token)
        for run in page:
            tag = run.data.tags.get(ID_TAG)
            if run.info.status == "RUNNING":
                client.delete_run(run.info.run_id)
            elif tag:
                out.add(tag)
        token = page.token
        if not token:
            return out


def _ms(wall: float | None) -> int | None:
    return int(wall * 1000) if wall is not None else None


def _key(name: str) -> str:
    return _UNSAFE.sub("_", name)


def _tags(record: ExperimentRecord) -> dict[str, str]:
    methods = sorted({s.method for s in record.energy.sensors if s.method})
    tags = {ID_TAG: record.experiment_id, "hyperwatt.session_id": record.session_id,
            "hyperwatt.workload": record.workload, "hyperwatt.mode": record.mode,
            "hyperwatt.status": record.status, "hyperwatt.valid": str(record.valid).lower(),
            "hyperwatt.energy_method": ", ".join(methods) or (record.energy.cpu_method or "none"),
            "hyperwatt.setting": record.label, "hyperwatt.repeat": str(record.repeat_index + 1)}
    if record.background is not None:
        tags["hyperwatt.background"] = record.background.workload
    if record.status_reason:
        tags["hyperwatt.status_reason"] = record.status_reason[:5000]
    return tags


def _metrics(record: ExperimentRecord) -> dict[str, float]:
    e = record.energy
    values: dict[str, float | None] = {f"{_key(k)}": v for k, v in record.metrics.items()}
    values.update({
        "energy_j": e.total_energy_j, "gpu_energy_j": e.gpu_energy_j, "gpu_net_energy_j": e.gpu_net_energy_j,
        "gpu_energy_uncertainty_j": e.gpu_uncertainty_j, "cpu_energy_j": e.cpu_energy_j,
        "cpu_energy_uncertainty_j": e.cpu_uncertainty_j, "dram_energy_j": e.dram_energy_j,
        "duration_s": record.duration_s,
    })
    for s in e.sensors:
        values[f"energy_j.{_key(s.sensor)}"] = s.energy_j
        values[f"net_energy_j.{_key(s.sensor)}"] = s.net_energy_j
        values[f"mean_power_w.{_key(s.sensor)}"] = s.mean_power_w
    if record.background is not None and record.background.coverage is not None:
        values["background_coverage"] = record.background.coverage
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def _series(layout: SessionLayout, record: ExperimentRecord) -> list[tuple[str, float, int]]:
    """(metric, value, step): the per-epoch series of the last attempt's metrics file, where it has
    more than one line; step is the line's `epoch` (or `step`), else its place in the file."""
    if not record.attempts:
        return []
    path = layout.experiment(record.experiment_id).metrics_file(record.attempts[-1].number)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        entry = loads(line) if line.strip() else None
        if isinstance(entry, dict) and EVENT_KEY not in entry:
            rows.append(entry)
    if len(rows) < 2:
        return []
    out = []
    for i, row in enumerate(rows):
        progress = next((row[k] for k in sorted(PROGRESS_KEYS) if isinstance(row.get(k), (int, float))), i)
        for k, v in row.items():
            if k in PROGRESS_KEYS or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                continue
            out.append((_key(str(k)), float(v), int(progress)))
    return out
