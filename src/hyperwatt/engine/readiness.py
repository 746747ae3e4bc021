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
    Not ready when the loop turns ineffective, when `readiness_runs` background runs have ended
    on their own without the GPU reaching the threshold, or when the timeout passes; the record
    then holds the highest utilisation seen and each run's duration, and the reason what to change."""
    clock = ctx.clock
    start = clock.monotonic()
    streak: list[float] = []
    powers: list[float] = []
    highest: float | None = None
    note = ""
    while True:
        ctx.check_interrupt()
        waited = clock.monotonic() - start
        ended = [r.duration_s for r in loop.runs if r.ended_mono is not None and not r.stopped_by_us
                 and r.duration_s is not None]
        why = _why_not(loop, slot, policy, waited, ended, highest, min_run_s)
        if why is not None:
            return Readiness(ready=False, waited_s=waited, reason=why, gpu_util_pct=highest,
                             max_gpu_util_pct=highest, run_durations_s=ended)
        since = loop.live_since_mono()
        if slot.gpu is None:
            if since is not None and clock.monotonic() - since >= min_run_s:
                return Readiness(ready=True, waited_s=waited,
                                 reason=f"a background run has been live for {min_run_s:g} s (no GPU to watch)")
        else:
            util, power, on_gpu, note = _gpu_state(ctx, slot, loop)
            if since is not None and on_gpu and util is not None:
                highest = util if highest is None else max(highest, util)
            if since is not None and on_gpu and util is not None and util >= policy.util_threshold_pct:
                streak.append(util)
                if power is not None:
                    powers.append(power)
            else:
                streak, powers = [], []
            if len(streak) >= policy.ready_samples:
                return Readiness(
                    ready=True, waited_s=waited, gpu_util_pct=fmean(streak),
                    background_alone_power_w=fmean(powers) if powers else None, max_gpu_util_pct=highest,
                    run_durations_s=ended,
                    reason=(f"background on {slot.label}, utilisation >= {policy.util_threshold_pct:g}% "
                            f"for {policy.ready_samples} samples{note}"),
                )
        if ctx.monitor is not None:
            ctx.monitor.wait(POLL_S)  # the sampler's own readings: no extra energy-counter reads
        else:
            clock.sleep(POLL_S)


def _why_not(loop: BackgroundLoop, slot: Slot, policy: ParallelPolicy, waited: float, ended: list[float],
             highest: float | None, min_run_s: float) -> str | None:
    """Why waiting any longer is pointless, or None to wait on."""
    if loop.ineffective:
        return f"background ineffective: {loop.ineffective_reason}"
    if slot.gpu is not None and len(ended) >= policy.readiness_runs:
        return _advice(f"{len(ended)} background run(s) ended ({_durations(ended)})", highest, policy, ended)
    if waited > policy.readiness_timeout_s:
        if slot.gpu is None:
            return f"no background run lived {min_run_s:g} s within {policy.readiness_timeout_s:g} s"
        runs = f"; runs that ended: {_durations(ended)}" if ended else ""
        return _advice(f"{policy.readiness_timeout_s:g} s passed{runs}", highest, policy, ended)
    return None


def _durations(ended: list[float]) -> str:
    shown = ", ".join(f"{d:.1f} s" for d in ended[-5:])
    return ("..., " if len(ended) > 5 else "") + shown


def _advice(what: str, highest: float | None, policy: ParallelPolicy, ended: list[float]) -> str:
    """Why the gate stayed shut, and what to change."""
    threshold = f"{policy.util_threshold_pct:g}%"
    if highest is not None:
        seen = f"highest {highest:.0f}%"
        first = f"lower parallel.util_threshold_pct (below {highest:.0f}% to accept this load)"
    else:
        seen = "the background's process never showed on the GPU"
        first = "check that the background uses this GPU (CUDA_VISIBLE_DEVICES, its device flag)"
    work = (f"give the background more work per run (more epochs or data: its runs lasted {max(ended):.1f} s at "
            "most)" if ended else "give the background more work (more epochs, a larger batch)")
    return (f"the background did not keep the GPU above parallel.util_threshold_pct = {threshold} for "
            f"{policy.ready_samples} samples ({seen}); {what}. To fix: {first}, {work}, or choose another "
            "background workload")


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
