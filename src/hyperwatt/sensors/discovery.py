"""Finding the sensors a machine offers, and the doctor's view of them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.sensors.base import GpuSensor, Sensor
from hyperwatt.sensors.estimate import CpuEstimateSensor
from hyperwatt.sensors.monitor import Monitor
from hyperwatt.sensors.nvml import open_gpus
from hyperwatt.sensors.rapl import POWERCAP_ROOT, open_rapl
from hyperwatt.sensors.records import Unavailable
from hyperwatt.sensors.window import detect_update_period


@dataclass
class SensorSet:
    """The sensors of one session, what could not be opened and why, and the driver versions."""

    sensors: list[Sensor]
    unavailable: list[Unavailable] = field(default_factory=list)
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    on_close: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def gpus(self) -> list[GpuSensor]:
        return [s for s in self.sensors if isinstance(s, GpuSensor)]

    def get(self, name: str) -> Sensor | None:
        return next((s for s in self.sensors if s.name == name), None)

    def close(self) -> None:
        """Close every sensor, then release NVML; safe to call twice."""
        for sensor in self.sensors:
            sensor.close()
        hooks, self.on_close = self.on_close, []
        for hook in hooks:
            try:
                hook()
            except Exception:  # closing must not mask the session's own outcome
                pass


def discover(gpu_indices: list[int] | None = None, cpu: bool = True, cpu_tdp_w: float | None = None,
             powercap_root: Path = POWERCAP_ROOT, nvml: Any | None = None,
             clock: Clock = SYSTEM_CLOCK) -> SensorSet:
    """Open the GPUs (NVML indices; None: all visible; []: none) and the CPU sensors.

    CPU: RAPL packages ("cpu") and DRAM zones ("dram") where readable; otherwise a labelled
    process-time estimate ("cpu-estimate"), with RAPL's reason kept in `unavailable`.
    """
    sset = SensorSet(sensors=[])
    if gpu_indices is None or gpu_indices:
        gpus = open_gpus(gpu_indices, nvml, clock)
        sset.sensors += gpus.sensors
        sset.unavailable += gpus.unavailable
        sset.driver_version, sset.cuda_driver_version = gpus.driver_version, gpus.cuda_driver_version
        if gpus.shutdown is not None:
            sset.on_close.append(gpus.shutdown)
    if cpu:
        rapl, missing = open_rapl(powercap_root, clock)
        sset.sensors += rapl
        if not any(s.info.domain == "cpu" for s in rapl):
            sset.sensors.append(CpuEstimateSensor(cpu_tdp_w, clock))
            missing = [replace(u, reason=f"{u.reason}; using the CPU-time estimate (cpu-estimate) instead")
                       if u.name == "cpu" else u for u in missing]
        sset.unavailable += missing
    return sset


def describe(sensors: SensorSet | None = None, probe_s: float = 1.0, clock: Clock = SYSTEM_CLOCK) -> list[dict[str, Any]]:
    """One row per sensor found or missing: name, domain, method, device, update period (detected
    by sampling for `probe_s` when > 0, else nominal), ok/status, reason and a one-line detail."""
    own = sensors is None
    sset = discover(clock=clock) if sensors is None else sensors
    try:
        detected = _probe(sset, probe_s, clock) if probe_s > 0 else {}
        rows = []
        for sensor in sset.sensors:
            info = sensor.info
            problem = sensor.check()
            period = detected.get(info.name) or info.update_period_s
            how = "detected" if info.name in detected else "nominal"
            detail = f"{info.method} · {info.device}"
            if period is not None:
                detail += f" · updates every {period * 1000:.3g} ms ({how})"
            if problem:
                detail += f" · read failed: {problem}"
            rows.append(dict(name=info.name, domain=info.domain, method=info.method, device=info.device,
                             update_period_s=period, resolution_j=info.resolution_j, ok=problem is None,
                             status="error" if problem else "ok", reason=problem, detail=detail))
        for u in sset.unavailable:
            rows.append(dict(name=u.name, domain=u.domain, method=None, device=None, update_period_s=None,
                             resolution_j=None, ok=False, status="unavailable", reason=u.reason, detail=u.reason))
        return rows
    finally:
        if own:
            sset.close()


def _probe(sset: SensorSet, probe_s: float, clock: Clock) -> dict[str, float]:
    monitor = Monitor(sset, clock=clock)
    monitor.run_for(probe_s)
    found: dict[str, float] = {}
    counters = monitor.stats().counters
    for sensor in sset.sensors:
        name = sensor.name
        period = counters[name].period_s if name in counters else None
        if period is None:
            samples = monitor.samples(name)
            period = detect_update_period(samples, "energy_j") or detect_update_period(samples, "power_w")
        if period is not None:
            found[name] = period
    return found
