"""Synthetic studies with planted answers: energy laws, greener settings, mode interactions."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from hyperwatt.records import ExperimentRecord

from .factories import record

#: (mode, hyperparameters) -> energy in J before noise
Law = Callable[[str, dict[str, Any]], float]


def imported(r: ExperimentRecord, method: str = "nvidia-smi-1hz-sum") -> ExperimentRecord:
    """The record as an import of the seed's measurements would carry it: another energy method."""
    for s in r.energy.sensors:
        s.method = method
    return r


def study(law: Law, values: dict[str, list[Any]], modes: tuple[str, ...] = ("sequential", "parallel"),
          workload: str = "examples/mnist", repeats: int = 2, defaults: dict[str, Any] | None = None,
          noise: float = 0.02, seed: int = 0, metric: Callable[[dict[str, Any]], float] | None = None,
          default_repeats: int = 3) -> list[ExperimentRecord]:
    """One-at-a-time mutations of each hyperparameter over `values`, plus the default setting, per mode."""
    rng = random.Random(seed)
    base = dict(defaults or {k: v[0] for k, v in values.items()})
    out = []
    for mode in modes:
        bg = "pytorch_resnet_cifar10/resnet20" if mode == "parallel" else None
        settings = [((), base)] + [((k,), {**base, k: v}) for k, vs in values.items() for v in vs if v != base[k]]
        for mutated, hp in settings:
            for _ in range(default_repeats if not mutated else repeats):
                e = law(mode, hp) * (1 + rng.uniform(-noise, noise))
                acc = metric(hp) if metric else 0.9
                out.append(record(workload=workload, hp=dict(hp), mutated=mutated, mode=mode, gpu_j=e, background=bg,
                                  metrics={"test_accuracy": acc, "test_loss": 1 - acc}))
    return out


def joint(law: Law, values: dict[str, list[Any]], n: int, mode: str = "sequential", workload: str = "examples/mnist",
          noise: float = 0.02, seed: int = 0) -> list[ExperimentRecord]:
    """`n` rows with every hyperparameter drawn at random (joint mutation)."""
    rng = random.Random(seed)
    bg = "pytorch_resnet_cifar10/resnet20" if mode == "parallel" else None
    out = []
    for _ in range(n):
        hp = {k: rng.choice(v) for k, v in values.items()}
        e = law(mode, hp) * (1 + rng.uniform(-noise, noise))
        out.append(record(workload=workload, hp=hp, mutated=tuple(values), mode=mode, gpu_j=e, background=bg,
                          metrics={"test_accuracy": 0.9 + rng.uniform(-0.01, 0.01)}))
    return out
