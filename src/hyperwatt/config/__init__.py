"""Workload and plan models, their TOML and seed-JSON loaders, and the workload registry."""

from hyperwatt.config.loading import LoadedPlan, check_values, load_plan, load_registry
from hyperwatt.config.plan import (
    BackgroundSpec,
    CooldownSettings,
    ExecutionSettings,
    ExperimentSpec,
    MutateSpec,
    SearchSpec,
    ParallelPolicy,
    Plan,
    PreflightPolicy,
    SensorSettings,
    TimingPolicy,
)
from hyperwatt.config.registry import Registry
from hyperwatt.config.workload import HyperParam, LogPattern, MetricsSpec, Scalar, Workload, coerce

__all__ = [
    "BackgroundSpec", "CooldownSettings", "ExecutionSettings", "ExperimentSpec", "HyperParam", "LoadedPlan", "LogPattern",
    "MetricsSpec", "MutateSpec", "SearchSpec", "ParallelPolicy", "Plan", "PreflightPolicy", "Registry", "Scalar",
    "SensorSettings", "TimingPolicy", "Workload", "check_values", "coerce", "load_plan", "load_registry",
]
