"""An experiment's energy from the session's monitor: the measured window per sensor (totals, net of
idle), its split at the training's phase markers, and in parallel mode the attribution between
foreground and background."""

from __future__ import annotations

from statistics import fmean
from typing import Literal

from hyperwatt import attribution as attribution_rules
from hyperwatt.engine import energy as energy_mod
from hyperwatt.engine import phases as phases_mod
from hyperwatt.engine.context import EngineContext, Slot
from hyperwatt.engine.window import GpuWatch, Window
from hyperwatt.records import BackgroundRecord, Energy, Phases
from hyperwatt.sensors import IdleBaseline


def _end_level(stopping: bool) -> Literal["inside", "after"]:
    # a background being stopped outlives the window by tens of ms: the end edge's level is read
    # inside the window, not after it
    return "inside" if stopping else "after"


def window_energy(
    ctx: EngineContext,
    slot: Slot,
    window: Window,
    baselines: dict[str, IdleBaseline],
    cpu_time_s: float | None,
    stopping: bool,
) -> Energy | None:
    """The window's energy record from every sensor (the CPU estimate from the tree's exact CPU
    seconds where it can); None without sensors."""
    if ctx.monitor is None or ctx.sensors is None:
        return None
    estimates = ctx.monitor.measure(window.t0_mono, window.t1_mono, end_level=_end_level(stopping))
    for sensor in ctx.sensors.sensors:
        if cpu_time_s is not None and sensor.capabilities.cpu_time_windows:
            estimates[sensor.name] = sensor.window_from_cpu_time(
                cpu_time_s, window.t1_mono - window.t0_mono, estimates[sensor.name]
            )
    devices = {s.info.name: s.info.device for s in ctx.sensors.sensors}
    unavailable = {u.name: u.reason for u in ctx.sensors.unavailable}
    energy = energy_mod.energy_record(
        estimates, devices, baselines, slot.gpu_index, unavailable, (window.t0_wall, window.t1_wall)
    )
    energy.sampler_error = ctx.monitor.thread_error
    return energy


def phase_energy(
    ctx: EngineContext,
    slot: Slot,
    window: Window,
    baselines: dict[str, IdleBaseline],
    markers: tuple[list[phases_mod.PhaseMarker], list[str]],
    energy: Energy,
    stopping: bool,
) -> Phases | None:
    """The window's energy per phase of the training (engine/phases.py); None without a monitor."""
    if ctx.monitor is None:
        return None
    slicers = ctx.monitor.slicers(window.t0_mono, window.t1_mono, end_level=_end_level(stopping))
    recorded = {s.sensor: s.energy_j for s in energy.sensors}
    return phases_mod.measure_phases(
        *markers,
        phases_mod.Window(window.t0_mono, window.t1_mono, window.t0_wall),
        slicers,
        recorded,
        baselines,
        slot.gpu_index,
    )


def attribute(
    ctx: EngineContext,
    slot: Slot,
    window: Window,
    watch: GpuWatch,
    bg: BackgroundRecord,
    energy: Energy,
    alone_span: tuple[float, float] | None,
    interference_pct: float = 0.0,
) -> None:
    """Parallel mode: the background's utilisation share and mean GPU utilisation in the window, and
    the energy's attribution between foreground and background (docs/measurement.md)."""
    share = None
    if slot.gpu is not None:
        watch.poll_util(window)
        fg, back, seen_both = window.util_sums()
        if seen_both and fg + back > 0:  # otherwise unknown, not 0 % / 100 %
            share = fg / (fg + back)
            bg.gpu_util_share = back / (fg + back)
        samples = ctx.monitor.samples(slot.label, window.t0_mono, window.t1_mono) if ctx.monitor is not None else []
        utils = [s.util_pct for s in samples if s.util_pct is not None]
        bg.mean_gpu_util_pct = fmean(utils) if utils else None
    spread = None
    if bg.alone is not None and bg.alone.power_w is not None and alone_span is not None and ctx.monitor is not None:
        t0, t1 = alone_span
        powers = [(x.t_mono, x.power_w) for x in ctx.monitor.samples(slot.label, t0, t1) if x.power_w is not None]
        length = min(window.t1_mono - window.t0_mono, (t1 - t0) / 2)
        spread = attribution_rules.power_spread_w(powers, length)
    energy.attribution = energy_mod.attribution(energy, bg.alone, spread, share, interference_pct)
