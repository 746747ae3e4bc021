"""CPU package and DRAM energy from RAPL via the Linux powercap tree."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.sensors.base import Sensor
from hyperwatt.sensors.records import Sample, SensorInfo, Unavailable

POWERCAP_ROOT = Path("/sys/class/powercap")
NOMINAL_UPDATE_S = 0.001  # RAPL counters refresh about every millisecond
_ZONE_DIR = re.compile(r"^(intel|amd)-rapl:(\d+)(?::(\d+))?$")  # intel-rapl-mmio duplicates packages: skipped

ReadText = Callable[[Path], str]


def _read_text(path: Path) -> str:
    return path.read_text()


@dataclass
class _Zone:
    path: Path
    label: str  # "package-0 (intel-rapl:0)"
    max_range_uj: int
    last_uj: int = 0
    total_uj: int = 0


class RaplSensor(Sensor):
    """Several RAPL zones summed into one cumulative counter, each zone wrap-corrected with its
    `max_energy_range_uj` (one wrap between reads at most: the sampler reads many times a second)."""

    def __init__(self, name: str, domain: str, zone_dirs: list[Path], clock: Clock = SYSTEM_CLOCK,
                 read_text: ReadText = _read_text) -> None:
        self._clock = clock
        self._read_text = read_text
        self._zones = []
        for d in zone_dirs:
            label = f"{read_text(d / 'name').strip()} ({d.name})"
            zone = _Zone(d, label, int(read_text(d / "max_energy_range_uj")))
            zone.last_uj = int(read_text(d / "energy_uj"))
            self._zones.append(zone)
        self._last: tuple[float, float] | None = None  # t, energy_j
        self.info = SensorInfo(
            name=name, domain=domain, method="rapl", device=" + ".join(z.label for z in self._zones),
            update_period_s=NOMINAL_UPDATE_S, resolution_j=1e-6,
            notes=f"powercap energy_uj of {len(self._zones)} zone(s), wraparound via max_energy_range_uj",
        )

    def read(self) -> Sample:
        clock = self._clock
        t_wall, t_a = clock.time(), clock.monotonic()
        try:
            raws = [int(self._read_text(z.path / "energy_uj")) for z in self._zones]
        except (OSError, ValueError) as exc:
            return Sample(self.name, clock.monotonic(), t_wall, error=f"RAPL: {exc}")
        t_b = clock.monotonic()
        for zone, raw in zip(self._zones, raws):
            delta = raw - zone.last_uj
            if delta < 0:
                delta += zone.max_range_uj
            zone.total_uj += delta
            zone.last_uj = raw
        t = (t_a + t_b) / 2
        energy = sum(z.total_uj for z in self._zones) / 1e6
        power = None
        if self._last is not None and t > self._last[0]:
            power = (energy - self._last[1]) / (t - self._last[0])
        self._last = (t, energy)
        return Sample(self.name, t, t_wall, power_w=power, energy_j=energy, read_latency_s=t_b - t_a)


def _zone_key(path: Path) -> tuple[int, int]:
    m = _ZONE_DIR.match(path.name)
    assert m is not None
    return int(m.group(2)), int(m.group(3) or -1)


def _permission_hint(path: Path, root: Path) -> str:
    return (f"cannot read {path}: permission denied (since Linux 5.10 RAPL energy is readable by root only). "
            f"Run as root, or allow reading until the next reboot with: sudo chmod a+r {root}/*-rapl:*/energy_uj; "
            "a udev rule makes it permanent")


def open_rapl(root: Path = POWERCAP_ROOT, clock: Clock = SYSTEM_CLOCK,
              read_text: ReadText = _read_text) -> tuple[list[Sensor], list[Unavailable]]:
    """A "cpu" sensor (all packages) and a "dram" sensor (all DRAM zones), or why not."""
    if not root.is_dir():
        reason = f"no powercap tree at {root} (not Linux, or RAPL not exposed in this VM/container)"
        return [], [Unavailable("cpu", reason, "cpu"), Unavailable("dram", reason, "dram")]
    zones = sorted((p for p in root.iterdir() if _ZONE_DIR.match(p.name)), key=_zone_key)
    named: list[tuple[Path, str]] = []
    for z in zones:
        try:
            named.append((z, read_text(z / "name").strip()))
        except OSError:
            continue
    packages = [z for z, name in named if name.startswith("package")]
    drams = [z for z, name in named if name == "dram"]
    sensors: list[Sensor] = []
    unavailable: list[Unavailable] = []
    for name, domain, dirs, missing in (
        ("cpu", "cpu", packages, f"no RAPL package zone under {root}"),
        ("dram", "dram", drams, f"no RAPL dram zone under {root} (this CPU or kernel does not report DRAM energy)"),
    ):
        if not dirs:
            unavailable.append(Unavailable(name, missing, domain))
            continue
        try:
            sensors.append(RaplSensor(name, domain, dirs, clock, read_text))
        except PermissionError as exc:
            unavailable.append(Unavailable(name, _permission_hint(Path(exc.filename or dirs[0] / "energy_uj"), root), domain))
        except (OSError, ValueError) as exc:
            unavailable.append(Unavailable(name, f"cannot read RAPL under {root}: {exc}", domain))
    return sensors, unavailable
