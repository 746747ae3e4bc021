"""The measured foreground window, and what the experiment's GPU shows while it runs: the pids seen
on each side (for utilisation shares), NVML's per-process samples, and compute processes that are
not the experiment's own."""

from __future__ import annotations

from dataclasses import dataclass, field

from hyperwatt.process.tree import command_line
from hyperwatt.sensors import GpuSensor
from hyperwatt.sensors.records import ProcessUtil


@dataclass
class Window:
    """The measured foreground window and the pids seen in it (for utilisation shares)."""

    t0_mono: float = 0.0
    t1_mono: float = 0.0
    t0_wall: float = 0.0
    t1_wall: float = 0.0
    fg_pids: set[int] = field(default_factory=set)
    bg_pids: set[int] = field(default_factory=set)
    # NVML's per-process samples, by (pid, time): the driver keeps only a few seconds, so they are
    # collected as the window runs
    process_util: dict[tuple[int, float], float] = field(default_factory=dict)

    def add_process_samples(self, samples: list[ProcessUtil]) -> None:
        for s in samples:
            if self.t0_wall <= s.t_wall and (not self.t1_wall or s.t_wall <= self.t1_wall):
                self.process_util[(s.pid, s.t_wall)] = s.sm_util_pct

    def util_sums(self) -> tuple[float, float, bool]:
        """Summed SM utilisation of the foreground's and the background's pids, and whether both
        sides appeared in the samples at all."""
        fg = sum(u for (pid, _), u in self.process_util.items() if pid in self.fg_pids)
        bg = sum(u for (pid, _), u in self.process_util.items() if pid in self.bg_pids)
        seen = {pid for pid, _ in self.process_util}
        return fg, bg, bool(seen & self.fg_pids) and bool(seen & self.bg_pids)


class GpuWatch:
    """Polls the experiment's GPU (none: nothing to watch) during its window."""

    def __init__(self, gpu: GpuSensor | None, shared_with: list[str]) -> None:
        self.gpu = gpu
        #: the record's `gpu_shared_with`, filled in place
        self.shared_with = shared_with

    def poll_util(self, window: Window) -> None:
        """Collect NVML's per-process samples (the driver keeps only a few seconds: poll)."""
        if self.gpu is not None:
            window.add_process_samples(self.gpu.process_samples(window.t0_wall))

    def note_strangers(self, window: Window) -> None:
        """Compute processes on the GPU that are not the experiment's own: the GPU's energy would
        include theirs. A pid this host cannot see (NVML in another PID namespace) proves nothing."""
        if self.gpu is None or not self.gpu.capabilities.process_list:
            return
        ours = window.fg_pids | window.bg_pids
        for proc in self.gpu.processes():
            if proc.pid in ours or any(s.startswith(f"pid {proc.pid}:") for s in self.shared_with):
                continue
            cmdline = command_line(proc.pid)
            if cmdline is not None:
                self.shared_with.append(f"pid {proc.pid}: {cmdline[:200]}")
