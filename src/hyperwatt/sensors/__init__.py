"""Energy sensors with provenance: NVML GPUs, RAPL CPU/DRAM, a CPU-time estimate, fakes; a sampler
thread that records a timeline and measures window energy with an error bound; idle baselines."""

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

__all__ = [
    "CounterSchedule", "CounterStats", "CpuEstimateSensor", "EnergyEstimate", "GpuProcess", "GpuSensor",
    "IdleBaseline", "Monitor", "MonitorStats", "NvmlGpuSensor", "RaplSensor", "Sample", "Sensor", "SensorInfo",
    "SensorSet", "Unavailable", "describe", "detect_update_period", "discover", "load_nvml", "measure_idle",
    "net_energy_j", "open_rapl", "window_energy",
]
