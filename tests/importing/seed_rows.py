"""Seed results CSVs for the import tests: the five real rows, and larger files of the same shape."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "SAMPLE_raw_data.csv"
MODELS = DATA / "models_config.json"


def sample() -> tuple[list[str], list[dict[str, str]]]:
    with SAMPLE.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def reid_row(template: dict[str, str], **cells: str) -> dict[str, str]:
    """A sequential Person_reID row under the seed's repository name."""
    row = {k: "" for k in template}
    row.update(experiment_id="default__Person_reID_baseline_pytorch_pcb_001", timestamp="2025-11-21T01:02:03.000001",
               repository="Person_reID_baseline_pytorch", model="pcb", training_success="True",
               duration_seconds="2178.5", retries="0", hyperparam_epochs="60", hyperparam_learning_rate="0.02",
               hyperparam_dropout="0.5", perf_rank1="0.91", perf_map="0.77", energy_gpu_total_joules="512345.5",
               energy_cpu_pkg_joules="100.25", energy_cpu_ram_joules="10.5", energy_cpu_total_joules="110.75",
               experiment_source="default", num_mutated_params="0")
    row.update(cells)
    return row


def generated(path: Path, n: int = 1225) -> Path:
    """`n` rows cycling through the real rows' shapes (sequential, parallel stored three ways, a failed
    run, the seed's Person_reID name), each with its own id, timestamp and values."""
    header, rows = sample()
    shapes = rows + [reid_row(rows[0]), reid_row(rows[0], training_success="False", duration_seconds="3.5",
                                                  error_message="CUDA out of memory", perf_rank1="", perf_map="")]
    start = datetime(2025, 11, 1)
    out = []
    for i in range(n):
        row = dict(shapes[i % len(shapes)])
        row["experiment_id"] = f"{row['experiment_id']}_{i:04d}"
        row["timestamp"] = (start + timedelta(minutes=7 * i, microseconds=i)).isoformat()
        for column in ("hyperparam_seed", "fg_hyperparam_seed"):
            if row.get(column):
                row[column] = str(i)
        out.append(row)
    return write(path, header, out)
