"""Idle baseline before an experiment, and energy above it."""

from __future__ import annotations

from statistics import fmean, pstdev

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.sensors.monitor import Monitor
from hyperwatt.sensors.records import EnergyEstimate, IdleBaseline


def measure_idle(monitor: Monitor, duration_s: float, clock: Clock = SYSTEM_CLOCK) -> dict[str, IdleBaseline]:
    """Idle power and temperature of every sensor over the next `duration_s`.

    Power is the window energy / duration where a counter gives it (exact to the counter), else
    the mean of the power samples; the spread is the standard deviation of the power samples.
    """
    monitor.sample_now()
    t0 = clock.monotonic()
    if monitor.running:
        clock.sleep(duration_s)
    else:
        monitor.run_for(duration_s)
    t1 = clock.monotonic()
    monitor.sample_now()
    out = {}
    for name, est in monitor.measure(t0, t1).items():
        good = [s for s in monitor.samples(name, t0, t1) if s.error is None]
        powers = [s.power_w for s in good if s.power_w is not None]
        temps = [s.temp_c for s in good if s.temp_c is not None]
        power = est.mean_power_w if est.energy_j is not None and not est.partial else None
        if power is None and powers:
            power = fmean(powers)
        out[name] = IdleBaseline(
            sensor=name, power_w=power, power_std_w=pstdev(powers) if len(powers) >= 2 else None,
            temp_c=fmean(temps) if temps else None, duration_s=t1 - t0, sample_count=len(good),
        )
    return out


def net_energy_j(estimate: EnergyEstimate, baseline: IdleBaseline | None) -> float | None:
    """Energy above idle over the estimate's window; None when either side is unknown."""
    if estimate.energy_j is None or baseline is None or baseline.power_w is None:
        return None
    return estimate.energy_j - baseline.power_w * estimate.duration_s
