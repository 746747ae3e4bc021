"""The sensor interface every energy source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hyperwatt.sensors.records import EnergyEstimate, GpuProcess, ProcessUtil, Sample, SensorInfo


@dataclass(frozen=True)
class Capabilities:
    """What a sensor can do beyond reading power; every sensor answers, and the default (all False)
    is the null answer: the matching methods are then harmless no-ops."""

    #: a cumulative energy counter (GPU: `read(counter=True)` fills `energy_j`)
    energy_counter: bool = False
    #: lists the compute processes on its device (`GpuSensor.processes`)
    process_list: bool = False
    #: per-process utilisation samples (`GpuSensor.process_samples`)
    process_util: bool = False
    #: measures only the process trees it is told to follow (`Sensor.track`)
    process_tracking: bool = False
    #: a window's energy from a process tree's exact CPU seconds (`Sensor.window_from_cpu_time`)
    cpu_time_windows: bool = False


NO_CAPABILITIES = Capabilities()


class Sensor(ABC):
    """A source of power/energy readings with provenance.

    `read()` never raises for a hardware fault: it returns `Sample(error=...)` instead. What a
    sensor can do beyond that is declared by `capabilities`, never guessed.
    """

    info: SensorInfo
    #: The sampler reads this sensor at most this often (an expensive read, e.g. a process scan).
    min_read_interval_s: float = 0.0

    @property
    def name(self) -> str:
        return self.info.name

    @abstractmethod
    def read(self) -> Sample: ...

    def check(self) -> str | None:
        """What stops this sensor from measuring right now, or None (the doctor's health check)."""
        return self.read().error

    @property
    def capabilities(self) -> Capabilities:
        return NO_CAPABILITIES

    def track(self, pids: Callable[[], Iterable[int]]) -> None:
        """Also follow these process roots from now on (only with `capabilities.process_tracking`)."""
        return None

    def window_from_cpu_time(self, cpu_time_s: float, duration_s: float, sampled: EnergyEstimate) -> EnergyEstimate:
        """A window's energy from the tree's exact CPU seconds (only with `capabilities.cpu_time_windows`);
        the sampled estimate unchanged otherwise."""
        return sampled

    def close(self) -> None:
        """Release the sensor; reading afterwards is not allowed."""
        return None


class GpuSensor(Sensor):
    """One GPU: power, a cumulative energy counter (if the device has one), and its processes."""

    index: int

    @property
    def has_counter(self) -> bool:
        """Whether the device exposes a cumulative energy counter (read with `read(counter=True)`)."""
        return False

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(energy_counter=self.has_counter, process_list=True, process_util=True)

    @abstractmethod
    def read(self, counter: bool = True, aux: bool = True) -> Sample:
        """Power (cheap) always; the energy counter (expensive) if `counter`; temperature, memory and
        SM clock if `aux`. Never raises for a hardware fault."""

    @abstractmethod
    def processes(self) -> list[GpuProcess]:
        """Compute processes on this GPU; [] when NVML cannot list them."""

    @abstractmethod
    def process_samples(self, since_wall: float) -> list[ProcessUtil]:
        """The per-process utilisation samples the driver still holds from after `since_wall` (epoch
        seconds; it keeps only the last few seconds, so poll); [] if unsupported."""
