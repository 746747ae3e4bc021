"""The records sensors produce: samples, provenance, window estimates, idle baselines."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one sensor. A failed read has every value None and the reason in `error`."""

    sensor: str  # "gpu0", "cpu" (RAPL packages summed), "dram", "cpu-estimate"
    t_mono: float  # clock.monotonic() of the reading (midpoint of the energy-counter call)
    t_wall: float
    power_w: float | None = None  # instant power (NVML field 186), or from counter deltas for RAPL
    power_avg_w: float | None = None  # NVML 1-s average power (field 185)
    energy_j: float | None = None  # cumulative energy since the sensor was opened (wrap-corrected)
    util_pct: float | None = None
    mem_used_mib: float | None = None
    temp_c: float | None = None
    sm_clock_mhz: float | None = None
    error: str | None = None
    read_latency_s: float | None = None  # duration of the energy-counter call; brackets its instant


@dataclass(frozen=True)
class SensorInfo:
    """Provenance of a sensor: what it measures, how, and how finely."""

    name: str
    domain: str  # "gpu" | "cpu" | "dram"
    method: str  # "nvml-energy-counter", "nvml-power-trapezoid", "rapl", "cpu-time-estimate", ...
    device: str  # human name, e.g. "NVIDIA H100 80GB HBM3 (index 0, uuid GPU-…)" / "package-0"
    update_period_s: float | None  # nominal or detected refresh period of the underlying counter
    resolution_j: float | None
    notes: str = ""
    relative_uncertainty: float = 0.0  # model error included in every estimate (estimates only)


@dataclass(frozen=True)
class GpuProcess:
    """A compute process NVML lists on a GPU."""

    pid: int
    used_memory_mib: float | None


@dataclass(frozen=True)
class ProcessUtil:
    """One of NVML's per-process utilisation samples: the SM utilisation % a pid had at `t_wall`."""

    t_wall: float
    pid: int
    sm_util_pct: float


@dataclass(frozen=True)
class Unavailable:
    """A sensor that could not be opened, and what to do about it."""

    name: str
    reason: str
    domain: str | None = None


@dataclass(frozen=True)
class EnergyEstimate:
    """Energy of one sensor over one window, with its method and an error bound.

    `energy_j` is None (with `reason`) when it cannot be measured, never 0 for "unknown".
    `uncertainty_j` is a worst-case bound under the assumptions stated in docs/measurement.md.
    """

    sensor: str
    domain: str
    energy_j: float | None
    uncertainty_j: float | None
    method: str
    duration_s: float
    sample_count: int
    achieved_rate_hz: float | None
    update_period_s: float | None  # counter update period detected from the samples
    gap_count: int
    max_gap_s: float | None
    partial: bool = False  # energy covers only part of the window; `reason` says which part
    reason: str | None = None
    mean_power_w: float | None = None
    peak_power_w: float | None = None


@dataclass(frozen=True)
class IdleBaseline:
    """Idle power and temperature of one sensor, measured before an experiment."""

    sensor: str
    power_w: float | None
    power_std_w: float | None
    temp_c: float | None
    duration_s: float
    sample_count: int
