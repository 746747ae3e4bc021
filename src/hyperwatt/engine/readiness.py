"""The readiness gate: the foreground starts only once the background really loads the GPU."""

from __future__ import annotations

from statistics import fmean

from hyperwatt.config import ParallelPolicy
from hyperwatt.engine.context import EngineContext, Slot
from hyperwatt.process import BackgroundLoop
from hyperwatt.records import Readiness

POLL_S = 0.1


def wait_until_ready(ctx: EngineContext, slot: Slot, loop: BackgroundLoop, policy: ParallelPolicy,
                     min_run_s: float) -> Readiness:
    """Ready when the background's process is on the slot's GPU and utilisation stays above the
    threshold for `ready_samples` polls; without a GPU, when a run has lived past `min_run_s`.
    Not ready when the loop turns ineffective or the timeout passes."""
    clock = ctx.clock
    start = clock.monotonic()
    streak: list[float] = []
    powers: list[float] = []
    note = ""
    while True:
        ctx.check_interrupt()
        waited = clock.monotonic() - start
        if loop.ineffective:
            return Readiness(ready=False, waited_s=waited,
                             reason=f"background ineffective: {loop.ineffective_reason}")
        if waited > policy.readiness_timeout_s:
            return Readiness(ready=False, waited_s=waited, reason=(
                f"background did not load the GPU within {policy.readiness_timeout_s:g} s"
                if slot.gpu is not None else
                f"no background run lived {min_run_s:g} s within {policy.readiness_timeout_s:g} s"))
        since = loop.live_since_mono()
        if slot.gpu is None:
            if since is not None and clock.monotonic() - since >= min_run_s:
                return Readiness(ready=True, waited_s=waited,
                                 reason=f"a background run has been live for {min_run_s:g} s (no GPU to watch)")
        else:
            util, power, on_gpu, note = _gpu_state(ctx, slot, loop)
            if since is not None and on_gpu and util is not None and util >= policy.util_threshold_pct:
                streak.append(util)
                if power is not None:
                    powers.append(power)
            else:
                streak, powers = [], []
            if len(streak) >= policy.ready_samples:
                return Readiness(
                    ready=True, waited_s=waited, gpu_util_pct=fmean(streak),
                    background_alone_power_w=fmean(powers) if powers else None,
                    reason=(f"background on {slot.label}, utilisation >= {policy.util_threshold_pct:g}% "
                            f"for {policy.ready_samples} samples{note}"),
                )
        if ctx.monitor is not None:
            ctx.monitor.wait(POLL_S)  # the sampler's own readings: no extra energy-counter reads
        else:
            clock.sleep(POLL_S)


def _gpu_state(ctx: EngineContext, slot: Slot, loop: BackgroundLoop) -> tuple[float | None, float | None, bool, str]:
    assert slot.gpu is not None
    sample = ctx.monitor.latest(slot.label) if ctx.monitor is not None else None
    util = sample.util_pct if sample is not None else None
    power = sample.power_w if sample is not None else None
    ours = set(loop.live_pids())
    on_gpu_pids = {p.pid for p in slot.gpu.processes()}
    if ours & on_gpu_pids:
        return util, power, True, ""
    if ours and not on_gpu_pids and util is not None and util > 0:
        # NVML lists no processes here (e.g. another PID namespace): trust utilisation alone, and say so
        return util, power, True, " (process list unavailable; judged by utilisation)"
    return util, power, False, ""
