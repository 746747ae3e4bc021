"""Fakes for tests and the benchmarks' CPU smoke mode: a scripted GPU (sensor and pynvml-like
module), a powercap tree in a directory, and replay of a recorded timeline. No hardware needed."""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Protocol, Sequence

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.sensors.base import Capabilities, GpuSensor, Sensor
from hyperwatt.sensors.discovery import SensorSet
from hyperwatt.sensors.records import GpuProcess, ProcessUtil, Sample, SensorInfo

if TYPE_CHECKING:
    from hyperwatt.config import Plan


# --- power curves ------------------------------------------------------------------------------
class PowerCurve(Protocol):
    def __call__(self, t: float) -> float: ...
    def energy_j(self, t_a: float, t_b: float) -> float: ...


class PiecewiseLinear:
    """Power through (t, W) points, linear in between, constant beyond the ends; a repeated t is a
    vertical step. Its energy is exact, so tests know the true answer."""

    def __init__(self, points: Sequence[tuple[float, float]]) -> None:
        if not points:
            raise ValueError("a power curve needs at least one point")
        self._t = [float(t) for t, _ in points]
        self._w = [float(w) for _, w in points]
        if any(b < a for a, b in zip(self._t, self._t[1:])):
            raise ValueError("power curve times must not decrease")
        self._cum = [0.0]
        for i in range(1, len(self._t)):
            self._cum.append(self._cum[-1] + (self._t[i] - self._t[i - 1]) * (self._w[i] + self._w[i - 1]) / 2)

    def __call__(self, t: float) -> float:
        if t < self._t[0]:
            return self._w[0]
        i = bisect.bisect_right(self._t, t) - 1
        if i >= len(self._t) - 1:
            return self._w[-1]
        t_a, t_b = self._t[i], self._t[i + 1]
        return self._w[i] + (self._w[i + 1] - self._w[i]) * (t - t_a) / (t_b - t_a)

    def _primitive(self, x: float) -> float:
        if x <= self._t[0]:
            return (x - self._t[0]) * self._w[0]
        i = bisect.bisect_right(self._t, x) - 1
        if i >= len(self._t) - 1:
            return self._cum[-1] + (x - self._t[-1]) * self._w[-1]
        return self._cum[i] + (x - self._t[i]) * (self._w[i] + self(x)) / 2

    def energy_j(self, t_a: float, t_b: float) -> float:
        return self._primitive(t_b) - self._primitive(t_a)


class _NumericCurve:
    """Any callable t -> W, integrated numerically (midpoint rule, 0.1 ms steps)."""

    def __init__(self, fn: Callable[[float], float]) -> None:
        self._fn = fn

    def __call__(self, t: float) -> float:
        return float(self._fn(t))

    def energy_j(self, t_a: float, t_b: float) -> float:
        n = max(1, math.ceil(abs(t_b - t_a) / 1e-4))
        h = (t_b - t_a) / n
        return h * sum(self._fn(t_a + (i + 0.5) * h) for i in range(n))


def constant(power_w: float) -> PiecewiseLinear:
    return PiecewiseLinear([(0.0, power_w)])


def burst(idle_w: float, busy_w: float, start: float, duration_s: float, ramp_s: float = 0.0) -> PiecewiseLinear:
    """Idle, then `busy_w` for `duration_s` from `start` (linear ramps of `ramp_s`), then idle."""
    end = start + duration_s
    return PiecewiseLinear([(start, idle_w), (start + ramp_s, busy_w), (end, busy_w), (end + ramp_s, idle_w)])


def square_wave(idle_w: float, busy_w: float, start: float, duration_s: float, on_s: float, off_s: float) -> PiecewiseLinear:
    """`on_s` busy / `off_s` idle, repeated for `duration_s` from `start` (vertical edges)."""
    points = [(start, idle_w)]
    t = start
    while t < start + duration_s - 1e-12:
        on_end = min(t + on_s, start + duration_s)
        points += [(t, idle_w), (t, busy_w), (on_end, busy_w), (on_end, idle_w)]
        t = on_end + off_s
    return PiecewiseLinear(points)


def as_curve(power: float | PowerCurve | Callable[[float], float]) -> PowerCurve:
    if isinstance(power, (int, float)):
        return constant(float(power))
    if hasattr(power, "energy_j"):
        return power  # type: ignore[return-value]
    return _NumericCurve(power)


# --- the scripted GPU --------------------------------------------------------------------------
@dataclass(frozen=True)
class FakeError:
    """Reads fail from `start` to `end` (monotonic seconds) with `message`."""

    start: float
    end: float
    message: str = "GPU is lost"


class FakeGpu:
    """A GPU's physics: a scripted power curve; an energy counter (mJ) and power fields that only
    change at update instants every `update_period_s` (optionally jittered)."""

    def __init__(
        self,
        power: float | PowerCurve | Callable[[float], float] = 60.0,
        *,
        clock: Clock = SYSTEM_CLOCK,
        update_period_s: float = 0.1,
        phase_s: float = 0.0,
        update_jitter_s: float = 0.0,
        counter: bool = True,
        counter_offset_mj: int = 987_654_321,
        counter_read_cost_s: float = 0.0,
        power_field: str = "mean",  # "mean" of the last update interval | "sample" at the update | "exact"
        errors: Iterable[FakeError] = (),
        temp_c: float | Callable[[float], float] = 40.0,
        util_pct: float | Callable[[float], float] = 0.0,
        mem_used_mib: float = 1024.0,
        sm_clock_mhz: float = 1980.0,
        name: str = "Fake GPU 80GB",
        uuid: str = "GPU-00000000-fake",
    ) -> None:
        self.curve = as_curve(power)
        self.clock = clock
        self.update_period_s = update_period_s
        self.phase_s = phase_s
        self.update_jitter_s = update_jitter_s
        self.counter = counter
        self.counter_offset_mj = counter_offset_mj
        self.counter_read_cost_s = counter_read_cost_s
        self.power_field = power_field
        self.errors = list(errors)
        self.temp_c = temp_c
        self.util_pct = util_pct
        self.mem_used_mib = mem_used_mib
        self.sm_clock_mhz = sm_clock_mhz
        self.name = name
        self.uuid = uuid
        self.processes: list[GpuProcess] = []
        self.process_util: dict[int, float] = {}
        self.origin = self._update_time(self._index(clock.monotonic()) - 1)

    def _update_time(self, k: int) -> float:
        t = self.phase_s + k * self.update_period_s
        if self.update_jitter_s:
            t += random.Random(k).uniform(-self.update_jitter_s, self.update_jitter_s)
        return t

    def _index(self, t: float) -> int:
        """Index of the last update at or before t."""
        k = math.floor((t - self.phase_s) / self.update_period_s)
        while self._update_time(k + 1) <= t:
            k += 1
        while self._update_time(k) > t:
            k -= 1
        return k

    def last_update(self, t: float) -> float:
        return self._update_time(self._index(t))

    def true_energy_j(self, t_a: float, t_b: float) -> float:
        return self.curve.energy_j(t_a, t_b)

    def counter_mj(self, t: float) -> int:
        return self.counter_offset_mj + round(1000 * self.curve.energy_j(self.origin, self.last_update(t)))

    def power_w(self, t: float) -> float:
        if self.power_field == "exact":
            return self.curve(t)
        k = self._index(t)
        u = self._update_time(k)
        if self.power_field == "sample":
            return self.curve(u)
        prev = self._update_time(k - 1)
        return self.curve.energy_j(prev, u) / (u - prev)

    def power_avg_w(self, t: float) -> float:
        u = self.last_update(t)
        return self.curve.energy_j(u - 1.0, u)

    def error_at(self, t: float) -> str | None:
        return next((e.message for e in self.errors if e.start <= t < e.end), None)

    def temp_at(self, t: float) -> float:
        return float(self.temp_c(t)) if callable(self.temp_c) else float(self.temp_c)

    def util_at(self, t: float) -> float:
        return float(self.util_pct(t)) if callable(self.util_pct) else float(self.util_pct)

    def read_counter(self) -> tuple[float, int, float]:
        """(midpoint, mJ, duration) of one counter read, spending `counter_read_cost_s` on the clock."""
        t_a = self.clock.monotonic()
        self.clock.sleep(self.counter_read_cost_s / 2)
        value = self.counter_mj(self.clock.monotonic())
        self.clock.sleep(self.counter_read_cost_s / 2)
        t_b = self.clock.monotonic()
        return (t_a + t_b) / 2, value, t_b - t_a


class FakeGpuSensor(GpuSensor):
    """A GpuSensor over a FakeGpu; importable by any test that needs a GPU."""

    def __init__(self, gpu: FakeGpu | None = None, *, index: int = 0, clock: Clock | None = None, **kwargs: object) -> None:
        if gpu is None:
            gpu = FakeGpu(clock=clock or SYSTEM_CLOCK, **kwargs)  # type: ignore[arg-type]
        self.gpu = gpu
        self.index = index
        self.clock = gpu.clock
        self._start_mj = gpu.counter_mj(self.clock.monotonic()) if gpu.counter else 0
        self.info = SensorInfo(
            name=f"gpu{index}", domain="gpu",
            method="nvml-energy-counter" if gpu.counter else "nvml-power-trapezoid",
            device=f"{gpu.name} (index {index}, uuid {gpu.uuid})", update_period_s=gpu.update_period_s,
            resolution_j=0.001 if gpu.counter else None, notes="fake GPU",
        )

    @property
    def has_counter(self) -> bool:
        return self.gpu.counter

    def read(self, counter: bool = True, aux: bool = True) -> Sample:
        gpu, clock = self.gpu, self.clock
        t_wall, t = clock.time(), clock.monotonic()
        error = gpu.error_at(t)
        if error is not None:
            return Sample(self.name, t, t_wall, error=f"NVML: {error}")
        energy = latency = None
        if counter and gpu.counter:
            t, raw, latency = gpu.read_counter()
            energy = (raw - self._start_mj) / 1000
        return Sample(
            self.name, t, t_wall, power_w=gpu.power_w(t), power_avg_w=gpu.power_avg_w(t), energy_j=energy,
            util_pct=gpu.util_at(t), mem_used_mib=gpu.mem_used_mib if aux else None,
            temp_c=gpu.temp_at(t) if aux else None, sm_clock_mhz=gpu.sm_clock_mhz if aux else None,
            read_latency_s=latency,
        )

    def processes(self) -> list[GpuProcess]:
        return list(self.gpu.processes)

    def process_samples(self, since_wall: float) -> list[ProcessUtil]:
        now = self.gpu.clock.time()
        return [ProcessUtil(now, pid, u) for pid, u in self.gpu.process_util.items()] if now > since_wall else []


# --- a pynvml-like module ----------------------------------------------------------------------
class FakeNvmlError(Exception):
    _TEXT = {3: "Not Supported", 4: "Insufficient Permissions", 6: "Not Found", 9: "Driver Not Loaded",
             12: "NVML Shared Library Not Found", 15: "GPU is lost", 999: "Unknown Error"}

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return self._TEXT.get(self.value, f"NVML error {self.value}")


@dataclass
class _Obj:
    """A record with attributes, like pynvml's ctypes structures."""

    values: dict = field(default_factory=dict)

    def __getattr__(self, name: str) -> object:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def _obj(**values: object) -> _Obj:
    return _Obj(values)


class FakeNvml:
    """Enough of the `pynvml` module for hyperwatt.sensors.nvml, over FakeGpus.

    `unsupported` names functions (e.g. "nvmlDeviceGetTotalEnergyConsumption") or field ids that
    answer NOT_SUPPORTED; `init_error` makes nvmlInit fail with that NVML code.
    """

    NVMLError = FakeNvmlError
    NVML_SUCCESS = 0
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_NO_PERMISSION = 4
    NVML_ERROR_NOT_FOUND = 6
    NVML_ERROR_DRIVER_NOT_LOADED = 9
    NVML_ERROR_LIBRARY_NOT_FOUND = 12
    NVML_ERROR_GPU_IS_LOST = 15
    NVML_FI_DEV_POWER_AVERAGE = 185
    NVML_FI_DEV_POWER_INSTANT = 186
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_VALUE_TYPE_DOUBLE = 0
    NVML_VALUE_TYPE_UNSIGNED_INT = 1

    def __init__(self, gpus: Sequence[FakeGpu], *, unsupported: Iterable[str | int] = (),
                 init_error: int | None = None, driver_version: str = "550.54.15",
                 cuda_driver_version: int = 12040) -> None:
        self.gpus = list(gpus)
        self.unsupported = set(unsupported)
        self.init_error = init_error
        self.driver_version = driver_version
        self.cuda_driver_version = cuda_driver_version
        self.init_count = 0
        self.calls: dict[str, int] = {}

    def _call(self, name: str, handle: int | None = None) -> FakeGpu | None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.init_count <= 0:
            raise FakeNvmlError(1)
        if name in self.unsupported:
            raise FakeNvmlError(self.NVML_ERROR_NOT_SUPPORTED)
        if handle is None:
            return None
        gpu = self.gpus[handle]
        if gpu.error_at(gpu.clock.monotonic()) is not None:
            raise FakeNvmlError(self.NVML_ERROR_GPU_IS_LOST)
        return gpu

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise FakeNvmlError(self.init_error)
        self.init_count += 1

    def nvmlShutdown(self) -> None:
        self._call("nvmlShutdown")
        self.init_count -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._call("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._call("nvmlSystemGetCudaDriverVersion")
        return self.cuda_driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._call("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._call("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise FakeNvmlError(2)
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        gpu = self._call("nvmlDeviceGetName", handle)
        assert gpu is not None
        return gpu.name

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        gpu = self._call("nvmlDeviceGetUUID", handle)
        assert gpu is not None
        return gpu.uuid

    def nvmlDeviceGetFieldValues(self, handle: int, field_ids: list[int]) -> list[_Obj]:
        gpu = self._call("nvmlDeviceGetFieldValues", handle)
        assert gpu is not None
        t = gpu.clock.monotonic()
        out = []
        for fid in field_ids:
            if fid in self.unsupported or fid not in (185, 186):
                out.append(_obj(fieldId=fid, nvmlReturn=self.NVML_ERROR_NOT_SUPPORTED, valueType=1, value=_obj()))
                continue
            watts = gpu.power_w(t) if fid == 186 else gpu.power_avg_w(t)
            out.append(_obj(fieldId=fid, nvmlReturn=0, valueType=1, value=_obj(uiVal=round(watts * 1000)),
                            timestamp=int(gpu.clock.time() * 1e6), latencyUsec=0))
        return out

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        gpu = self._call("nvmlDeviceGetTotalEnergyConsumption", handle)
        assert gpu is not None
        if not gpu.counter:
            raise FakeNvmlError(self.NVML_ERROR_NOT_SUPPORTED)
        return gpu.read_counter()[1]

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        gpu = self._call("nvmlDeviceGetPowerUsage", handle)
        assert gpu is not None
        return round(gpu.power_avg_w(gpu.clock.monotonic()) * 1000)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        gpu = self._call("nvmlDeviceGetTemperature", handle)
        assert gpu is not None
        return round(gpu.temp_at(gpu.clock.monotonic()))

    def nvmlDeviceGetClockInfo(self, handle: int, clock_type: int) -> int:
        gpu = self._call("nvmlDeviceGetClockInfo", handle)
        assert gpu is not None
        return round(gpu.sm_clock_mhz)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> _Obj:
        gpu = self._call("nvmlDeviceGetMemoryInfo", handle)
        assert gpu is not None
        used = int(gpu.mem_used_mib * 2**20)
        return _obj(used=used, total=80 * 2**30, free=80 * 2**30 - used)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> _Obj:
        gpu = self._call("nvmlDeviceGetUtilizationRates", handle)
        assert gpu is not None
        return _obj(gpu=round(gpu.util_at(gpu.clock.monotonic())), memory=0)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[_Obj]:
        gpu = self._call("nvmlDeviceGetComputeRunningProcesses", handle)
        assert gpu is not None
        return [_obj(pid=p.pid, usedGpuMemory=None if p.used_memory_mib is None else int(p.used_memory_mib * 2**20))
                for p in gpu.processes]

    def nvmlDeviceGetProcessUtilization(self, handle: int, since_us: int) -> list[_Obj]:
        gpu = self._call("nvmlDeviceGetProcessUtilization", handle)
        assert gpu is not None
        if not gpu.process_util:
            raise FakeNvmlError(self.NVML_ERROR_NOT_FOUND)
        now_us = int(gpu.clock.time() * 1e6)
        return [_obj(pid=pid, smUtil=round(u), memUtil=0, timeStamp=now_us) for pid, u in gpu.process_util.items()]


# --- a powercap tree ---------------------------------------------------------------------------
@dataclass
class FakeZone:
    name: str  # "package-0", "dram", "core", "psys"
    energy_uj: int = 0
    max_energy_range_uj: int = 262_143_328_850
    readable: bool = True
    subzones: list[FakeZone] = field(default_factory=list)


class FakePowercap:
    """A /sys/class/powercap lookalike under `root`; energies are set by the test."""

    def __init__(self, root: Path, zones: Sequence[FakeZone], prefix: str = "intel-rapl") -> None:
        self.root = root
        self._zones: dict[str, FakeZone] = {}
        root.mkdir(parents=True, exist_ok=True)
        (root / prefix).mkdir(exist_ok=True)  # the control type: no energy file
        for i, zone in enumerate(zones):
            self._add(f"{prefix}:{i}", zone)
            for j, sub in enumerate(zone.subzones):
                self._add(f"{prefix}:{i}:{j}", sub)

    def _add(self, zone_id: str, zone: FakeZone) -> None:
        d = self.root / zone_id
        d.mkdir(exist_ok=True)
        (d / "name").write_text(zone.name + "\n")
        (d / "max_energy_range_uj").write_text(f"{zone.max_energy_range_uj}\n")
        self._zones[zone_id] = zone
        self._write(zone_id)
        if not zone.readable:
            (d / "energy_uj").chmod(0o000)

    def _write(self, zone_id: str) -> None:
        path = self.root / zone_id / "energy_uj"
        mode = path.stat().st_mode if path.exists() else None
        if mode is not None:
            path.chmod(0o644)
        path.write_text(f"{self._zones[zone_id].energy_uj}\n")
        if mode is not None:
            path.chmod(mode & 0o777)

    def set_energy(self, zone_id: str, energy_uj: int) -> None:
        self._zones[zone_id].energy_uj = energy_uj
        self._write(zone_id)

    def add_energy(self, zone_id: str, energy_uj: int) -> None:
        """Advance a zone's counter, wrapping past max_energy_range_uj as the hardware does."""
        zone = self._zones[zone_id]
        self.set_energy(zone_id, (zone.energy_uj + energy_uj) % zone.max_energy_range_uj)

    def read_text(self, path: Path) -> str:
        """Read as an unprivileged user would: energy_uj of an unreadable zone is refused."""
        zone = self._zones.get(path.parent.name)
        if zone is not None and path.name == "energy_uj" and not zone.readable:
            raise PermissionError(13, "Permission denied", str(path))
        return path.read_text()


def make_powercap_tree(root: Path, packages: int = 2, dram: bool = True, *, readable: bool = True,
                       max_energy_range_uj: int = 262_143_328_850, prefix: str = "intel-rapl") -> FakePowercap:
    """`packages` package zones, each with core and (optionally) dram sub-zones."""
    zones = []
    for i in range(packages):
        subs = [FakeZone("core", max_energy_range_uj=max_energy_range_uj, readable=readable)]
        if dram:
            subs.append(FakeZone("dram", max_energy_range_uj=max_energy_range_uj, readable=readable))
        zones.append(FakeZone(f"package-{i}", max_energy_range_uj=max_energy_range_uj, readable=readable, subzones=subs))
    return FakePowercap(root, zones, prefix)


# --- replay ------------------------------------------------------------------------------------
class ReplaySensor(Sensor):
    """Plays one sensor's recorded samples back against a clock: each read returns the latest
    recording at or before the same offset into the recording, re-stamped with the current time."""

    def __init__(self, samples: Sequence[Sample], info: SensorInfo, clock: Clock = SYSTEM_CLOCK,
                 start_mono: float | None = None) -> None:
        mine = sorted((s for s in samples if s.sensor == info.name), key=lambda s: s.t_mono)
        if not mine:
            raise ValueError(f"no samples of sensor {info.name!r} to replay")
        self.info = info
        self.clock = clock
        self._samples = mine
        self._times = [s.t_mono for s in mine]
        start = clock.monotonic() if start_mono is None else start_mono
        self._offset = start - mine[0].t_mono

    def read(self) -> Sample:
        now = self.clock.monotonic()
        t = now - self._offset
        i = bisect.bisect_right(self._times, t) - 1
        if i < 0 or (i == len(self._times) - 1 and t > self._times[-1] + 1.0):
            return Sample(self.name, now, self.clock.time(), error="replay: no recording at this time")
        return replace(self._samples[i], t_mono=now, t_wall=self.clock.time())


class ReplayGpuSensor(ReplaySensor, GpuSensor):
    """A replayed GPU: power/counter/temperature from the recording; no processes."""

    def __init__(self, samples: Sequence[Sample], info: SensorInfo, clock: Clock = SYSTEM_CLOCK,
                 start_mono: float | None = None, index: int = 0) -> None:
        super().__init__(samples, info, clock, start_mono)
        self.index = index

    @property
    def has_counter(self) -> bool:
        return any(s.energy_j is not None for s in self._samples)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(energy_counter=self.has_counter)  # a recording holds no processes

    def read(self, counter: bool = True, aux: bool = True) -> Sample:
        sample = ReplaySensor.read(self)
        return sample if counter else replace(sample, energy_j=None)

    def processes(self) -> list[GpuProcess]:
        return []

    def process_samples(self, since_wall: float) -> list[ProcessUtil]:
        return []


# --- a sensors factory -------------------------------------------------------------------------
@dataclass(frozen=True)
class FakeGpus:
    """A sensors factory (`SessionOptions.sensors_factory`) of constant-power fake GPUs: one per
    index of the plan's `sensors.gpus`, else `count` of them. A plain value, so it can be shipped to
    Ray nodes, each of which then builds its own."""

    count: int = 1
    power_w: float = 100.0

    def __call__(self, plan: Plan) -> SensorSet:
        indices = plan.sensors.gpus if plan.sensors.gpus is not None else list(range(self.count))
        return SensorSet([FakeGpuSensor(FakeGpu(constant(self.power_w)), index=i) for i in indices])
