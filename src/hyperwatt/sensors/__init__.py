"""Energy sensors with provenance: NVML GPUs, RAPL CPU/DRAM, a CPU-time estimate, fakes; a sampler
thread that records a timeline and measures window energy with an error bound; idle baselines.

Importing a submodule (e.g. `hyperwatt.sensors.records` for the record types) loads only that
submodule: the names below are loaded on first use, so the store never pulls in NVML.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyperwatt.sensors.base import GpuSensor, Sensor
    from hyperwatt.sensors.baseline import measure_idle, net_energy_j
    from hyperwatt.sensors.discovery import SensorSet, describe, discover
    from hyperwatt.sensors.estimate import CpuEstimateSensor
    from hyperwatt.sensors.monitor import CounterStats, Monitor, MonitorStats
    from hyperwatt.sensors.nvml import NvmlGpuSensor, load_nvml
    from hyperwatt.sensors.rapl import RaplSensor, open_rapl
    from hyperwatt.sensors.records import EnergyEstimate, GpuProcess, IdleBaseline, Sample, SensorInfo, Unavailable
    from hyperwatt.sensors.schedule import CounterSchedule
    from hyperwatt.sensors.window import detect_update_period, window_energy

_HOMES = {
    "CounterSchedule": "hyperwatt.sensors.schedule",
    "CounterStats": "hyperwatt.sensors.monitor",
    "CpuEstimateSensor": "hyperwatt.sensors.estimate",
    "EnergyEstimate": "hyperwatt.sensors.records",
    "GpuProcess": "hyperwatt.sensors.records",
    "GpuSensor": "hyperwatt.sensors.base",
    "IdleBaseline": "hyperwatt.sensors.records",
    "Monitor": "hyperwatt.sensors.monitor",
    "MonitorStats": "hyperwatt.sensors.monitor",
    "NvmlGpuSensor": "hyperwatt.sensors.nvml",
    "RaplSensor": "hyperwatt.sensors.rapl",
    "Sample": "hyperwatt.sensors.records",
    "Sensor": "hyperwatt.sensors.base",
    "SensorInfo": "hyperwatt.sensors.records",
    "SensorSet": "hyperwatt.sensors.discovery",
    "Unavailable": "hyperwatt.sensors.records",
    "describe": "hyperwatt.sensors.discovery",
    "detect_update_period": "hyperwatt.sensors.window",
    "discover": "hyperwatt.sensors.discovery",
    "load_nvml": "hyperwatt.sensors.nvml",
    "measure_idle": "hyperwatt.sensors.baseline",
    "net_energy_j": "hyperwatt.sensors.baseline",
    "open_rapl": "hyperwatt.sensors.rapl",
    "window_energy": "hyperwatt.sensors.window",
}

__all__ = [
    "CounterSchedule", "CounterStats", "CpuEstimateSensor", "EnergyEstimate", "GpuProcess", "GpuSensor",
    "IdleBaseline", "Monitor", "MonitorStats", "NvmlGpuSensor", "RaplSensor", "Sample", "Sensor", "SensorInfo",
    "SensorSet", "Unavailable", "describe", "detect_update_period", "discover", "load_nvml", "measure_idle",
    "net_energy_j", "open_rapl", "window_energy",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
