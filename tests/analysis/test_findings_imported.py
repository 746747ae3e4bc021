"""The findings on the seed's own format: a raw_data.csv imported as sessions (issue 12's importer)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from hyperwatt.analysis import report_command
from hyperwatt.config import Registry
from hyperwatt.importing.importer import import_paths

HEADER = (
    "experiment_id,timestamp,repository,model,training_success,duration_seconds,retries,"
    "hyperparam_batch_size,hyperparam_epochs,hyperparam_learning_rate,hyperparam_seed,"
    "perf_test_accuracy,energy_gpu_total_joules,energy_gpu_avg_watts,energy_cpu_total_joules,"
    "experiment_source,num_mutated_params,mutated_param,mode,bg_repository,bg_model"
)


def seed_csv(path: Path) -> Path:
    """The seed's columns (a subset of its 87), one-at-a-time mutations of examples/mnist in both modes;
    mutation rows record only the mutated hyperparameter, as the seed's often do. Energy grows as
    epochs in sequential mode and as epochs^1.5 in parallel mode."""
    rng = random.Random(5)
    cols = HEADER.split(",")
    rows = []
    n = 0
    for mode in ("", "parallel"):
        k = 1.5 if mode else 1.0
        settings = [(None, None)] * 3 + [("epochs", e) for e in (2, 5, 20, 30) for _ in range(2)] \
            + [("learning_rate", lr) for lr in (0.001, 0.1) for _ in range(2)]
        for name, value in settings:
            n += 1
            epochs = value if name == "epochs" else 10
            row = dict.fromkeys(cols, "")
            row.update({"experiment_id": f"exp_{n:03d}", "timestamp": f"2025-11-20T10:{n // 60:02d}:{n % 60:02d}",
                        "repository": "examples", "model": "mnist", "training_success": "True",
                        "duration_seconds": "30.0", "retries": "0", "perf_test_accuracy": "98.5",
                        "energy_gpu_total_joules": f"{100 * epochs ** k * rng.uniform(0.97, 1.03):.2f}",
                        "energy_gpu_avg_watts": "150.0", "energy_cpu_total_joules": "500.0", "mode": mode,
                        "experiment_source": "default" if name is None else "mutation_1x",
                        "num_mutated_params": "0" if name is None else "1", "mutated_param": name or ""})
            if name is None:
                row.update({"hyperparam_batch_size": "32", "hyperparam_epochs": "10",
                            "hyperparam_learning_rate": "0.01", "hyperparam_seed": "1"})
            else:
                row[f"hyperparam_{name}"] = str(value)
            if mode:
                row.update({"bg_repository": "pytorch_resnet_cifar10", "bg_model": "resnet20"})
            rows.append(row)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_findings_on_an_imported_seed_file(tmp_path: Path) -> None:
    results = tmp_path / "results"
    import_paths([seed_csv(tmp_path / "raw_data.csv")], results, Registry.builtin())
    path = report_command(None, results, None, True)
    data = json.loads(path.with_name("findings.json").read_text())
    groups = {g["mode"]: g for g in data["groups"]}
    assert set(groups) == {"sequential", "parallel"} and data["provenance"]["methods"] == {"nvidia-smi-1hz-sum": 30}
    for g in groups.values():
        epochs = next(c for c in g["correlation"] if c["hyperparameter"] == "epochs")
        assert epochs["direction"] == "increases"
        assert {t["scope"]: t["n"] for t in epochs["tests"]} == {"all": 15, "isolated": 11}  # 3 default + 8 epochs
        assert g["greener"]["baseline"]["energy_j"]["n"] == 3  # the seed's default rows
    (pair,) = [p for p in data["sensitivity"]["pairs"] if p["hyperparameter"] == "epochs"]
    assert pair["more_sensitive"] == "parallel" and pair["significant"]
    assert abs(pair["sequential"]["slope"] - 1.0) < 0.1 and abs(pair["parallel"]["slope"] - 1.5) < 0.1
