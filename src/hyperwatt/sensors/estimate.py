"""A CPU energy estimate for machines without readable RAPL: process-tree CPU time x power per CPU."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable

import psutil

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.process.proctable import descendants, snapshot
from hyperwatt.process.tree import to_processes
from hyperwatt.sensors.base import Capabilities, Sensor
from hyperwatt.sensors.records import EnergyEstimate, Sample, SensorInfo

DEFAULT_CPU_POWER_W = 5.0  # W per busy logical CPU without a TDP (servers/desktops span ~2-10 W)
REL_UNCERTAINTY_TDP = 0.5  # a busy thread draws ~0.5x-1.5x of TDP / threads (SMT, turbo, IPC)
REL_UNCERTAINTY_DEFAULT = 1.0  # the default per-CPU figure may be off by a factor of two
MAX_SOURCES = 32  # pid sources kept (finished experiments' sources just return no pids)


class CpuEstimateSensor(Sensor):
    """Energy attributed to the tracked process trees: CPU seconds x watts per busy logical CPU.

    Only CPU time spent after `track()` counts (processes older than that count from first sight);
    idle and uncore power are not included. The method is labelled "cpu-time-estimate" and carries
    a large relative uncertainty.
    """

    min_read_interval_s = 0.5  # a process-tree scan walks /proc: twice a second is enough

    def __init__(self, cpu_tdp_w: float | None = None, clock: Clock = SYSTEM_CLOCK,
                 logical_cpus: int | None = None) -> None:
        cpus = logical_cpus or psutil.cpu_count(logical=True) or 1
        self.cpu_power_w = cpu_tdp_w / cpus if cpu_tdp_w else DEFAULT_CPU_POWER_W
        source = f"TDP {cpu_tdp_w:g} W / {cpus} logical CPUs" if cpu_tdp_w else "hyperwatt's default"
        self._clock = clock
        self._sources: list[Callable[[], Iterable[int]]] = []
        self._since_wall = 0.0
        self._cpu: dict[tuple[int, float], tuple[float, float]] = {}  # (pid, create time) -> (base, latest)
        self._last: tuple[float, float, float] | None = None  # t, cpu_s, energy_j
        self.info = SensorInfo(
            name="cpu-estimate", domain="cpu", method="cpu-time-estimate",
            device=f"{cpus} logical CPUs at {self.cpu_power_w:.2f} W per busy CPU ({source})",
            update_period_s=None, resolution_j=None,
            notes="estimate: tracked process trees' CPU time x power per busy CPU; excludes idle and uncore power",
            relative_uncertainty=REL_UNCERTAINTY_TDP if cpu_tdp_w else REL_UNCERTAINTY_DEFAULT,
        )

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(process_tracking=True, cpu_time_windows=True)

    def track(self, pids: Callable[[], Iterable[int]]) -> None:
        """Also follow these process roots (and all their descendants) from now on. Several slots
        may track at once: like RAPL, the estimate then covers everything tracked."""
        self._sources = [*self._sources[-(MAX_SOURCES - 1):], pids]
        self._since_wall = self._clock.time()

    def window_from_cpu_time(self, cpu_time_s: float, duration_s: float, sampled: EnergyEstimate) -> EnergyEstimate:
        """The window's estimate from the tree's exact CPU seconds (the kernel's accounting of
        everything the training's guard reaped), in place of the sampled one: the samples miss the
        time after the last read before the exit and processes shorter than a read interval."""
        energy = cpu_time_s * self.cpu_power_w
        return replace(sampled, energy_j=energy, uncertainty_j=self.info.relative_uncertainty * energy,
                       partial=False, reason=None, mean_power_w=energy / duration_s if duration_s > 0 else None)

    def check(self) -> str | None:
        try:
            psutil.Process().cpu_times()
        except psutil.Error as exc:
            return f"cannot read process CPU times: {exc}"
        return None

    def read(self) -> Sample:
        t_wall, t_a = self._clock.time(), self._clock.monotonic()
        if not self._sources:
            return Sample(self.name, t_a, t_wall, error="no process tree tracked yet")
        try:
            roots = [pid for source in self._sources for pid in source()]
        except Exception as exc:  # a caller's pid source failed
            return Sample(self.name, t_a, t_wall, error=f"cannot list tracked pids: {exc!r}")
        for proc in self._tree(roots):
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    times = proc.cpu_times()
            except psutil.Error:
                continue
            cpu = times.user + times.system
            base = self._cpu[key][0] if key in self._cpu else (0.0 if key[1] >= self._since_wall - 1.0 else cpu)
            self._cpu[key] = (base, cpu)
        t = (t_a + self._clock.monotonic()) / 2
        busy = sum(latest - base for base, latest in self._cpu.values())
        energy = busy * self.cpu_power_w
        power = util = None
        if self._last is not None and t > self._last[0]:
            power = (energy - self._last[2]) / (t - self._last[0])
            util = 100 * (busy - self._last[1]) / (t - self._last[0])
        self._last = (t, busy, energy)
        return Sample(self.name, t, t_wall, power_w=power, energy_j=energy, util_pct=util)

    @staticmethod
    def _tree(roots: list[int]) -> list[psutil.Process]:
        """The roots and their descendants, from one snapshot of the process table."""
        if not roots:
            return []
        table = snapshot(read_tokens=False)
        pids = set(roots)
        for pid in list(pids):
            pids |= descendants(table, pid)
        return to_processes(pids)
