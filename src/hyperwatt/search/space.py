"""A workload's declared hyperparameters as Optuna distributions, and Optuna's values back as exact values.

Log-uniform ranges stay log; integers stay integers; choices and booleans are categorical. A float
suggested by a sampler is written with the same significant digits as a mutation's, so the value
recorded is the text the training received.
"""

from __future__ import annotations

from typing import Any

from hyperwatt.config.workload import Workload
from hyperwatt.space import SAMPLED_FLOAT_DIGITS, Value, literal


def distributions(workload: Workload, names: list[str]) -> dict[str, Any]:
    """Optuna distributions of the named parameters (each must be mutable: a range or values)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name in names:
        param = workload.hyperparameters[name]
        if param.distribution == "choice" or param.values is not None:
            out[name] = CategoricalDistribution(list(param.values or []))
        elif param.type == "bool":
            out[name] = CategoricalDistribution([False, True])
        else:
            assert param.range is not None
            lo, hi = param.range
            log = param.distribution == "log_uniform"
            if param.type == "int":
                out[name] = IntDistribution(int(lo), int(hi), log=log and lo > 0)
            else:
                out[name] = FloatDistribution(float(lo), float(hi), log=log and lo > 0)
    return out


def grid(workload: Workload, names: list[str], points: int) -> dict[str, list[Any]]:
    """The grid sampler's values: every choice; integers (up to `points`, evenly spread); floats at
    `points` values, log-spaced for log-uniform ranges."""
    import numpy as np

    out: dict[str, list[Any]] = {}
    for name, dist in distributions(workload, names).items():
        if hasattr(dist, "choices"):
            out[name] = list(dist.choices)
            continue
        lo, hi, log = dist.low, dist.high, dist.log
        xs = np.geomspace(lo, hi, points) if log else np.linspace(lo, hi, points)
        if isinstance(lo, int) and isinstance(hi, int):
            out[name] = sorted({int(round(x)) for x in xs})
        else:
            out[name] = [float(f"{x:.{SAMPLED_FLOAT_DIGITS}g}") for x in xs]
    return out


def to_values(workload: Workload, params: dict[str, Any]) -> dict[str, Value]:
    """Optuna's suggested values as exact hyperparameter values (floats rounded as mutations are)."""
    out = {}
    for name, raw in params.items():
        param = workload.hyperparameters[name]
        if param.type == "float" and isinstance(raw, float):
            raw = float(f"{raw:.{SAMPLED_FLOAT_DIGITS}g}")
        out[name] = literal(param, raw)
    return out
