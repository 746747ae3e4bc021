"""Adaptive cooldown: wait until every GPU is back near its idle baseline (bounded, same in every mode)."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import TYPE_CHECKING, Callable

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.records import Cooldown
from hyperwatt.sensors import IdleBaseline, Monitor

if TYPE_CHECKING:
    from hyperwatt.engine.context import EngineContext
    from hyperwatt.engine.lifecycle import ExperimentRun


@dataclass(frozen=True)
class CooldownPolicy:
    min_s: float = 5.0
    max_s: float = 120.0
    power_tolerance_w: float = 10.0
    power_tolerance_pct: float = 10.0  # of the idle power; the larger of the two tolerances applies
    temp_delta_c: float = 2.0
    stable_samples: int = 5  # consecutive polls that must all be near idle
    poll_s: float = 0.5


@dataclass(frozen=True)
class CooldownResult:
    duration_s: float
    reached: bool
    reason: str
    final_power_w: dict[str, float | None]
    final_temp_c: dict[str, float | None]


def wait_for_cooldown(monitor: Monitor, baselines: dict[str, IdleBaseline], policy: CooldownPolicy,
                      clock: Clock = SYSTEM_CLOCK, should_stop: Callable[[], bool] = lambda: False) -> CooldownResult:
    """Wait at least `min_s`; done when each GPU with a baseline has power within
    max(tolerance_w, pct of idle) above its idle power and temperature within `temp_delta_c` above
    its idle temperature for `stable_samples` consecutive polls; give up at `max_s`."""
    start = clock.monotonic()
    names = [g.name for g in monitor.sensor_set.gpus() if g.name in baselines]
    power: dict[str, float | None] = {n: None for n in names}
    temp: dict[str, float | None] = {n: None for n in names}
    stable = 0
    while True:
        elapsed = clock.monotonic() - start
        if should_stop():
            return CooldownResult(elapsed, False, f"interrupted after {elapsed:.1f} s", power, temp)
        hot = []
        for name in names:
            power[name], temp[name] = _recent(monitor, name, clock.monotonic() - policy.poll_s)
            why = _still_hot(name, power[name], temp[name], baselines[name], policy)
            if why:
                hot.append(why)
        stable = 0 if hot else stable + 1
        if elapsed >= policy.min_s:
            if not names:
                return CooldownResult(elapsed, True, _no_gpu_reason(monitor, policy), power, temp)
            if stable >= policy.stable_samples:
                return CooldownResult(elapsed, True, f"near idle after {elapsed:.1f} s: " + _state(names, power, temp),
                                      power, temp)
        if elapsed >= policy.max_s:
            why = "; ".join(hot) or f"near idle for only {stable} of {policy.stable_samples} polls"
            return CooldownResult(elapsed, False, f"gave up after {elapsed:.1f} s: {why}", power, temp)
        step = policy.poll_s if names else min(policy.poll_s, policy.min_s - elapsed)
        monitor.wait(max(min(step, policy.max_s - elapsed), 1e-3))


def _recent(monitor: Monitor, name: str, since: float) -> tuple[float | None, float | None]:
    """Mean power over the last poll (the latest reading if none), and the latest temperature."""
    good = [s for s in monitor.samples(name, since - 2.0) if s.error is None]
    powers = [s.power_w for s in good if s.t_mono >= since and s.power_w is not None]
    if not powers:
        powers = [s.power_w for s in good[-1:] if s.power_w is not None]
    temps = [s.temp_c for s in good if s.temp_c is not None]
    return (fmean(powers) if powers else None), (temps[-1] if temps else None)


def _still_hot(name: str, power: float | None, temp: float | None, base: IdleBaseline,
               policy: CooldownPolicy) -> str | None:
    if power is None:
        return f"{name} has no power reading"
    if base.power_w is not None:
        tol = max(policy.power_tolerance_w, policy.power_tolerance_pct / 100 * base.power_w)
        if power - base.power_w > tol:
            return f"{name} still at {power:.0f} W (idle {base.power_w:.0f} W + {tol:.0f} W tolerance)"
    if base.temp_c is not None and temp is not None and temp - base.temp_c > policy.temp_delta_c:
        return f"{name} still at {temp:.0f} °C (idle {base.temp_c:.0f} °C + {policy.temp_delta_c:g} °C)"
    return None


def _state(names: list[str], power: dict[str, float | None], temp: dict[str, float | None]) -> str:
    parts = []
    for n in names:
        p, t = power[n], temp[n]
        parts.append(f"{n} {p:.0f} W" + (f", {t:.0f} °C" if t is not None else "") if p is not None else f"{n} ?")
    return "; ".join(parts)


def _no_gpu_reason(monitor: Monitor, policy: CooldownPolicy) -> str:
    if monitor.sensor_set.gpus():
        return f"no idle baseline for this slot's GPU: waited the minimum {policy.min_s:g} s"
    return f"no GPU sensor: waited the minimum {policy.min_s:g} s"


def cool_down(ctx: EngineContext, run: ExperimentRun) -> Cooldown | None:
    """After an experiment: wait until its GPU (and the CPU) is back near the session's coolest idle
    baseline seen so far. Cooling towards it (not the last experiment's own, possibly warm, baseline)
    keeps drift from piling up. Other GPUs' slots are left alone."""
    if ctx.monitor is None:
        return None
    c = run.pe.timing.cooldown
    policy = CooldownPolicy(min_s=c.min_s, max_s=c.max_s, power_tolerance_w=c.power_tolerance_w,
                            power_tolerance_pct=c.power_tolerance_pct, temp_delta_c=c.temp_delta_c,
                            stable_samples=c.stable_samples)
    mine = {k: v for k, v in run.baselines.items() if k == run.slot.label or not k.startswith("gpu")}
    res = wait_for_cooldown(ctx.monitor, _reference(ctx, mine), policy, ctx.clock, should_stop=ctx.interrupt.is_set)
    return Cooldown(duration_s=res.duration_s, reached=res.reached, reason=res.reason)


def _reference(ctx: EngineContext, measured: dict[str, IdleBaseline]) -> dict[str, IdleBaseline]:
    """The session's idle reference per sensor: the coolest idle baseline seen so far."""
    ref = ctx.reference_baselines
    for name, base in measured.items():
        held = ref.get(name)
        if held is None or (base.temp_c is not None and (held.temp_c is None or base.temp_c < held.temp_c)):
            ref[name] = base
    return {name: ref[name] for name in measured}
