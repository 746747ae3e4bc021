"""NVIDIA GPUs through NVML (`nvidia-ml-py`, imported lazily so hyperwatt runs without a driver)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.sensors.base import GpuSensor
from hyperwatt.sensors.records import GpuProcess, ProcessUtil, Sample, SensorInfo, Unavailable
from hyperwatt.sensors.window import COUNTER_RESET

FI_POWER_AVERAGE = 185  # NVML_FI_DEV_POWER_AVERAGE: 1-s average power, mW
FI_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT: instant power, mW
NOMINAL_UPDATE_S = 0.1  # counter and power fields refresh every ~100 ms (measured on H100/H200)
_NOT_SUPPORTED = 3
_FUNCTION_NOT_FOUND = 13
_VALUE_ATTR = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}


def load_nvml() -> Any:
    """The `pynvml` module (nvidia-ml-py), imported on first use."""
    return importlib.import_module("pynvml")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field_value(fv: Any) -> float:
    return float(getattr(fv.value, _VALUE_ATTR.get(int(fv.valueType), "uiVal")))


class _NoPower(Exception):
    """The GPU offers no power or energy reading at all."""


class NvmlGpuSensor(GpuSensor):
    """One GPU: instant and 1-s average power (field values), the total-energy counter (mJ),
    utilisation, memory, temperature, SM clock, and its compute processes."""

    def __init__(self, nvml: Any, index: int, clock: Clock = SYSTEM_CLOCK) -> None:
        self._nvml = nvml
        self.index = index
        self._clock = clock
        self._h = nvml.nvmlDeviceGetHandleByIndex(index)
        h = self._h
        name = _text(nvml.nvmlDeviceGetName(h))
        uuid = _text(self._optional(lambda: nvml.nvmlDeviceGetUUID(h)) or "?")
        self._fields = self._probe_fields()
        self._power_usage = FI_POWER_INSTANT not in self._fields and self._supported(
            lambda: nvml.nvmlDeviceGetPowerUsage(h))
        self._counter = self._supported(lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(h))
        self._start_mj = nvml.nvmlDeviceGetTotalEnergyConsumption(h) if self._counter else 0
        self._last_mj = self._start_mj
        self._offset_mj = 0
        self._util = self._supported(lambda: nvml.nvmlDeviceGetUtilizationRates(h))
        self._temp = self._supported(lambda: nvml.nvmlDeviceGetTemperature(h, self._const("NVML_TEMPERATURE_GPU", 0)))
        self._sm = self._supported(lambda: nvml.nvmlDeviceGetClockInfo(h, self._const("NVML_CLOCK_SM", 1)))
        self._mem = self._supported(lambda: nvml.nvmlDeviceGetMemoryInfo(h))
        if not (self._fields or self._power_usage or self._counter):
            raise _NoPower("NVML reports neither power nor energy for this GPU (Not Supported)")
        self.processes_error: str | None = None
        self.info = self._describe(name, uuid)

    def _describe(self, name: str, uuid: str) -> SensorInfo:
        if FI_POWER_INSTANT in self._fields:
            power = "instant power: field 186"
        elif self._power_usage:
            power = "power: nvmlDeviceGetPowerUsage (a 1-s average on Ampere and newer)"
        else:
            power = "power: field 185 (1-s average)"
        notes = [power]
        if self._counter:
            notes.append("energy: nvmlDeviceGetTotalEnergyConsumption (mJ), edges corrected with instant power")
        else:
            notes.append("no energy counter on this GPU: instant power integrated (trapezoid)")
        notes.append("NVML's own calibration (about +/-5 % of reading) is not part of uncertainty_j")
        averaged_only = FI_POWER_INSTANT not in self._fields and not self._counter
        return SensorInfo(
            name=f"gpu{self.index}", domain="gpu",
            method="nvml-energy-counter" if self._counter else "nvml-power-trapezoid",
            device=f"{name} (index {self.index}, uuid {uuid})",
            update_period_s=1.0 if averaged_only else NOMINAL_UPDATE_S,
            resolution_j=0.001 if self._counter else None, notes="; ".join(notes),
        )

    def _probe_fields(self) -> list[int]:
        try:
            values = self._nvml.nvmlDeviceGetFieldValues(self._h, [FI_POWER_INSTANT, FI_POWER_AVERAGE])
        except self._nvml.NVMLError as exc:
            if getattr(exc, "value", None) in (_NOT_SUPPORTED, _FUNCTION_NOT_FOUND):
                return []
            raise
        return [int(fv.fieldId) for fv in values if int(fv.nvmlReturn) == 0]

    def _const(self, name: str, default: int) -> int:
        return int(getattr(self._nvml, name, default))

    def _supported(self, call: Callable[[], Any]) -> bool:
        try:
            call()
        except self._nvml.NVMLError as exc:
            if getattr(exc, "value", None) in (_NOT_SUPPORTED, _FUNCTION_NOT_FOUND):
                return False
            raise
        return True

    def _optional(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except self._nvml.NVMLError:
            return None

    @property
    def has_counter(self) -> bool:
        return self._counter

    def read(self, counter: bool = True, aux: bool = True) -> Sample:
        nvml, h, clock = self._nvml, self._h, self._clock
        t_wall = clock.time()
        try:
            power = avg = None
            if self._fields:
                for fv in nvml.nvmlDeviceGetFieldValues(h, self._fields):
                    if int(fv.nvmlReturn) == 0:
                        watts = _field_value(fv) / 1000
                        if int(fv.fieldId) == FI_POWER_INSTANT:
                            power = watts
                        else:
                            avg = watts
            if self._power_usage:
                power = nvml.nvmlDeviceGetPowerUsage(h) / 1000
            util = float(nvml.nvmlDeviceGetUtilizationRates(h).gpu) if self._util else None
            t = clock.monotonic()
            energy = latency = None
            if counter and self._counter:
                t_a = clock.monotonic()
                raw = int(nvml.nvmlDeviceGetTotalEnergyConsumption(h))
                t_b = clock.monotonic()
                t, latency = (t_a + t_b) / 2, t_b - t_a
                if raw < self._last_mj:  # driver reload or GPU reset: continue from the last value
                    self._offset_mj += self._last_mj - raw
                    self._last_mj = raw
                    return Sample(self.name, t, t_wall, error=f"{COUNTER_RESET}: NVML counter went back "
                                  f"(driver reload or GPU reset?); the energy since the previous read is lost")
                self._last_mj = raw
                energy = (raw - self._start_mj + self._offset_mj) / 1000
        except self._nvml.NVMLError as exc:
            return Sample(self.name, clock.monotonic(), t_wall, error=f"NVML: {exc}")
        temp = mem = sm = None
        if aux:
            if self._temp:
                temp = self._optional(lambda: float(nvml.nvmlDeviceGetTemperature(h, self._const("NVML_TEMPERATURE_GPU", 0))))
            if self._sm:
                sm = self._optional(lambda: float(nvml.nvmlDeviceGetClockInfo(h, self._const("NVML_CLOCK_SM", 1))))
            if self._mem:
                mem = self._optional(lambda: nvml.nvmlDeviceGetMemoryInfo(h).used / 2**20)
        return Sample(self.name, t, t_wall, power_w=power, power_avg_w=avg, energy_j=energy, util_pct=util,
                      mem_used_mib=mem, temp_c=temp, sm_clock_mhz=sm, read_latency_s=latency)

    def processes(self) -> list[GpuProcess]:
        try:
            procs = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._h)
        except self._nvml.NVMLError as exc:
            self.processes_error = f"NVML: {exc}"
            return []
        self.processes_error = None
        return [GpuProcess(int(p.pid), None if p.usedGpuMemory is None else p.usedGpuMemory / 2**20) for p in procs]

    def process_samples(self, since_wall: float) -> list[ProcessUtil]:
        try:
            rows = self._nvml.nvmlDeviceGetProcessUtilization(self._h, int(since_wall * 1e6))
        except self._nvml.NVMLError:  # not supported, or no sample since then
            return []
        return [ProcessUtil(int(row.timeStamp) / 1e6, int(row.pid), float(row.smUtil)) for row in rows]


@dataclass
class NvmlGpus:
    """What opening NVML found."""

    sensors: list[GpuSensor] = field(default_factory=list)
    unavailable: list[Unavailable] = field(default_factory=list)
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    shutdown: Callable[[], None] | None = None


def open_gpus(indices: list[int] | None = None, nvml: Any | None = None, clock: Clock = SYSTEM_CLOCK) -> NvmlGpus:
    """Sensors for the GPUs with these NVML indices (None: all); what is missing says why."""
    found = NvmlGpus()
    if nvml is None:
        try:
            nvml = load_nvml()
        except ImportError:
            found.unavailable.append(Unavailable("gpu", "nvidia-ml-py is not installed (pip install nvidia-ml-py)", "gpu"))
            return found
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        found.unavailable.append(Unavailable("gpu", f"NVML unavailable: {exc} (no NVIDIA driver on this machine?)", "gpu"))
        return found
    try:
        count = int(nvml.nvmlDeviceGetCount())
        if count == 0 and indices is None:
            found.unavailable.append(Unavailable("gpu", "NVML sees no GPU", "gpu"))
        for i in range(count) if indices is None else indices:
            if not 0 <= i < count:
                found.unavailable.append(Unavailable(f"gpu{i}", f"no GPU with NVML index {i} ({count} visible; "
                                                     "indices are nvidia-smi's, not CUDA_VISIBLE_DEVICES')", "gpu"))
                continue
            try:
                found.sensors.append(NvmlGpuSensor(nvml, i, clock))
            except (nvml.NVMLError, _NoPower) as exc:
                found.unavailable.append(Unavailable(f"gpu{i}", f"cannot read GPU {i}: {exc}", "gpu"))
        found.driver_version = _text(nvml.nvmlSystemGetDriverVersion())
        cuda = int(nvml.nvmlSystemGetCudaDriverVersion())
        found.cuda_driver_version = f"{cuda // 1000}.{cuda % 1000 // 10}"
    except nvml.NVMLError as exc:
        found.unavailable.append(Unavailable("gpu", f"NVML failed while listing GPUs: {exc}", "gpu"))
    if found.sensors:
        found.shutdown = nvml.nvmlShutdown
    else:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass
    return found
