"""Running built-in workloads as subprocesses the way the registry declares them, and reading what they wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperwatt.metricsfile import ENV_VAR, PhaseEvent, read, read_phases

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - CI runs 3.11
    import tomli as tomllib

BUILTIN_TOML = Path(__file__).resolve().parents[2] / "src" / "hyperwatt" / "workloads" / "builtin.toml"
WORKLOAD_TIMEOUT_S = 150
NAMES = (
    "examples/mnist", "examples/mnist_rnn", "examples/mnist_ff", "examples/siamese",
    "pytorch_resnet_cifar10/resnet20", "pytorch_resnet_cifar10/resnet32", "pytorch_resnet_cifar10/resnet44",
    "pytorch_resnet_cifar10/resnet56", "Person_reID/densenet121", "Person_reID/hrnet18", "Person_reID/pcb",
    "VulBERTa/mlp", "VulBERTa/cnn",
)


def builtin_tables() -> dict[str, dict[str, Any]]:
    """Each workload's table with `extends` resolved (hyperparameters and metrics merge per key)."""
    raw = tomllib.loads(BUILTIN_TOML.read_text(encoding="utf-8"))["workloads"]
    resolved: dict[str, dict[str, Any]] = {}
    for name, table in raw.items():
        base = resolved[table["extends"]] if "extends" in table else {}
        merged = {**base, **{k: v for k, v in table.items() if k != "extends"}}
        for key in ("hyperparameters", "metrics"):
            merged[key] = {**base.get(key, {}), **table.get(key, {})}
        resolved[name] = merged
    return resolved


def command(name: str, **overrides: Any) -> list[str]:
    """The declared argv with every defaulted hyperparameter's flag, overridden as given, CPU and tiny."""
    table = builtin_tables()[name]
    values = {k: p["default"] for k, p in table["hyperparameters"].items() if "default" in p}
    values.update({"size": "tiny", "device": "cpu", "epochs": 1})
    values.update(overrides)
    argv = [sys.executable if a == "{python}" else a for a in table["argv"]]
    for key, value in values.items():
        argv += [table["hyperparameters"][key]["flag"], str(value)]
    return argv


@dataclass(frozen=True)
class WorkloadRun:
    returncode: int
    stdout: str
    stderr: str
    metrics: dict[str, float]
    problems: list[str]
    phases: list[PhaseEvent]

    def settings(self) -> dict[str, str]:
        """The key=value pairs of the start line."""
        line = next(ln for ln in self.stdout.splitlines() if ln.startswith("settings: "))
        return dict(field.split("=", 1) for field in line.removeprefix("settings: ").split())

    def epoch_lines(self) -> list[str]:
        return [ln for ln in self.stdout.splitlines() if ln.startswith("epoch ")]


def run(argv: list[str], workdir: Path) -> WorkloadRun:
    workdir.mkdir(parents=True, exist_ok=True)
    metrics_file = workdir / "metrics.jsonl"
    env = {**os.environ, ENV_VAR: str(metrics_file)}
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=WORKLOAD_TIMEOUT_S)
    metrics, problems = read(metrics_file)
    phases, phase_problems = read_phases(metrics_file)
    return WorkloadRun(proc.returncode, proc.stdout, proc.stderr, metrics, problems + phase_problems, phases)
