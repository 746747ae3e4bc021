"""Assemble the energy section of a record from the sensors' window estimates."""

from __future__ import annotations

from typing import Any, Mapping

from hyperwatt import attribution as rules
from hyperwatt.records import ENERGY_PENDING, Attribution, BackgroundAlone, Energy, ExperimentRecord, SensorEnergy
from hyperwatt.sensors import EnergyEstimate, IdleBaseline


def _gpu_index(name: str) -> int | None:
    return int(name[3:]) if name.startswith("gpu") and name[3:].isdigit() else None


def energy_record(
    estimates: Mapping[str, EnergyEstimate],
    devices: Mapping[str, str],  # sensor name -> device description
    baselines: Mapping[str, IdleBaseline],
    gpu_index: int | None,
    unavailable: Mapping[str, str],
    window: tuple[float, float],  # wall-clock start, end
) -> Energy:
    """Per-sensor figures plus GPU / CPU / DRAM totals; unknown stays None with a reason."""
    rows: list[SensorEnergy] = []
    for name, est in estimates.items():
        idx = _gpu_index(name)
        if est.domain == "gpu" and idx is not None and idx != gpu_index:
            continue  # another slot's GPU
        base = baselines.get(name)
        idle_w = base.power_w if base is not None else None
        net = None
        if est.energy_j is not None and idle_w is not None:
            net = est.energy_j - idle_w * est.duration_s
        rows.append(SensorEnergy(
            sensor=name, domain=est.domain, method=est.method, device=devices.get(name, ""),
            energy_j=est.energy_j, uncertainty_j=est.uncertainty_j, net_energy_j=net, idle_power_w=idle_w,
            mean_power_w=est.mean_power_w, peak_power_w=est.peak_power_w, duration_s=est.duration_s,
            sample_count=est.sample_count, achieved_rate_hz=est.achieved_rate_hz,
            update_period_s=est.update_period_s, gap_count=est.gap_count, max_gap_s=est.max_gap_s,
            partial=est.partial, reason=est.reason,
        ))
    gpu = _total(rows, "gpu")
    cpu = _total(rows, "cpu")
    dram = _total(rows, "dram")
    gpu_net = _sum([r.net_energy_j for r in rows if r.domain == "gpu"])
    cpu_methods = sorted({r.method for r in rows if r.domain == "cpu"})
    gpu_methods = sorted({r.method for r in rows if r.domain == "gpu"})
    total = None
    if gpu[0] is not None and cpu[0] is not None:
        total = gpu[0] + cpu[0] + (dram[0] or 0.0)
    elif gpu_index is None and cpu[0] is not None:
        total = cpu[0] + (dram[0] or 0.0)  # a CPU-only slot: no GPU to count
    reasons = [f"{r.sensor}: {r.reason}" for r in rows if r.energy_j is None and r.reason]
    if gpu_index is not None and not any(r.domain == "gpu" for r in rows):
        reasons.append(f"gpu{gpu_index}: no sensor for this GPU")
    available = any(r.energy_j is not None for r in rows)
    return Energy(
        available=available,
        reason=None if available else ("; ".join(reasons) or "no energy sensor available"),
        window_start_wall=window[0], window_end_wall=window[1], duration_s=window[1] - window[0],
        gpu_energy_j=gpu[0], gpu_uncertainty_j=gpu[1], gpu_net_energy_j=gpu_net,
        cpu_energy_j=cpu[0], cpu_uncertainty_j=cpu[1], cpu_method="+".join(cpu_methods) or None,
        gpu_method="+".join(gpu_methods) or None, dram_energy_j=dram[0], total_energy_j=total,
        partial=any(r.partial for r in rows), sensors=rows,
        idle_baseline={k: _plain(v) for k, v in baselines.items()},
        unavailable_sensors=dict(unavailable),
    )


def _total(rows: list[SensorEnergy], domain: str) -> tuple[float | None, float | None]:
    mine = [r for r in rows if r.domain == domain]
    if not mine or any(r.energy_j is None for r in mine):
        return None, None
    energy = sum(r.energy_j for r in mine if r.energy_j is not None)
    uncs = [r.uncertainty_j for r in mine]
    # each sensor states a worst-case bound, so bounds add (no root-sum-square)
    unc = sum(u for u in uncs if u is not None) if all(u is not None for u in uncs) else None
    return energy, unc


def _sum(values: list[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def _plain(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "__dataclass_fields__"):
        return {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    return dict(obj) if isinstance(obj, Mapping) else {"value": obj}


def attribution(energy: Energy, alone: BackgroundAlone | None, spread_w: float | None,
                fg_util_share: float | None, interference_pct: float = 0.0) -> Attribution:
    """Every rule of docs/measurement.md ("Attribution") side by side: the whole device, the
    foreground's marginal energy over the background measured alone (with its bound and where its
    interval lies), and the utilisation-share split."""
    device, device_unc = energy.gpu_energy_j, energy.gpu_uncertainty_j
    duration = energy.gpu_window_s
    alone_w = alone.power_w if alone is not None else None
    value = unc = verdict = reason = None
    if device is None or duration is None:
        reason = "no GPU energy for the window"
    elif alone is None:
        reason = "the background was not measured alone (parallel.background_alone_s = 0, or no GPU sensor)"
    elif alone_w is None:
        reason = f"no background-alone power: {alone.reason}"
    else:
        value, unc = rules.marginal(device, device_unc, duration, alone_w, alone.power_uncertainty_w, spread_w,
                                    interference_pct)
        verdict = rules.marginal_verdict(value, unc, device, device_unc)
        if unc is None:
            reason = "no bound: " + ("the alone window had too few power samples for its spread"
                                     if spread_w is None else "the energy counter stated none")
    share_energy = (rules.util_share_energy(device, fg_util_share)
                    if device is not None and fg_util_share is not None else None)
    source = (f"alone window of {alone.duration_s:.1f} s after the readiness gate" if alone is not None
              else "not measured")
    return Attribution(
        device_energy_j=device, device_uncertainty_j=device_unc,
        background_alone_power_w=alone_w,
        background_alone_uncertainty_w=alone.power_uncertainty_w if alone is not None else None,
        background_alone_spread_w=spread_w, background_alone_source=source,
        background_interference_pct=interference_pct if value is not None else None,
        foreground_marginal_energy_j=value, foreground_marginal_uncertainty_j=unc,
        foreground_marginal_verdict=verdict, marginal_reason=reason,
        foreground_util_share=fg_util_share, foreground_util_share_energy_j=share_energy,
        note=("device: everything the GPU drew during the foreground window (the figure trade-offs use); "
              "marginal: device minus the background's power measured alone x window, with a bound that "
              "includes how much that power varied and how much sharing the GPU may change it "
              "(parallel.interference_pct); util share: device x the foreground's share of "
              "per-process SM utilisation (an estimate without a bound)"),
    )


def settle_unmeasured(record: ExperimentRecord, sensors_present: bool) -> None:
    """A finished record whose energy was never measured says why (never "not measured yet")."""
    e = record.energy
    if e.available or e.reason != ENERGY_PENDING:
        return
    ran = [a for a in record.attempts if a.duration_s is not None]
    if not sensors_present:
        e.reason = "no energy sensor: the session ran without sensors"
    elif record.status == "interrupted":
        e.reason = "interrupted before the foreground's window closed"
    elif not record.attempts:
        e.reason = "the foreground never ran" + (f": {record.status_reason}" if record.status_reason else "")
    elif not ran:
        e.reason = "the foreground never started" + (f": {record.attempts[-1].error}" if record.attempts[-1].error else "")
    else:
        e.reason = f"not measured ({record.status}" + (f": {record.status_reason})" if record.status_reason else ")")
