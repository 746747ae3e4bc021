"""The sensor interface every energy source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from hyperwatt.sensors.records import GpuProcess, ProcessUtil, Sample, SensorInfo


class Sensor(ABC):
    """A source of power/energy readings with provenance.

    `read()` never raises for a hardware fault: it returns `Sample(error=...)` instead.
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

    def close(self) -> None:
        """Release the sensor; reading afterwards is not allowed."""


class GpuSensor(Sensor):
    """One GPU: power, a cumulative energy counter (if the device has one), and its processes."""

    index: int

    @property
    def has_counter(self) -> bool:
        """Whether the device exposes a cumulative energy counter (read with `read(counter=True)`)."""
        return False

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
