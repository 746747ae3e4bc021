"""Assemble the energy section of a record from the sensors' window estimates."""

from __future__ import annotations

from typing import Any, Mapping

from hyperwatt.records import Attribution, Energy, SensorEnergy


def _gpu_index(name: str) -> int | None:
    return int(name[3:]) if name.startswith("gpu") and name[3:].isdigit() else None


def energy_record(
    estimates: Mapping[str, Any],  # sensor name -> hyperwatt.sensors.EnergyEstimate
    devices: Mapping[str, str],  # sensor name -> device description
    baselines: Mapping[str, Any],  # sensor name -> hyperwatt.sensors.IdleBaseline
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
        idle_w = getattr(base, "power_w", None)
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


def attribution(energy: Energy, bg_alone_power_w: float | None, bg_source: str,
                fg_util_share: float | None) -> Attribution:
    """Whole-device energy, the foreground's marginal energy and a utilisation-share split, side by side."""
    device = energy.gpu_energy_j
    duration = energy.duration_s
    marginal = None
    if device is not None and bg_alone_power_w is not None and duration is not None:
        marginal = device - bg_alone_power_w * duration
    share_energy = device * fg_util_share if device is not None and fg_util_share is not None else None
    return Attribution(
        device_energy_j=device, background_alone_power_w=bg_alone_power_w, background_alone_source=bg_source,
        foreground_marginal_energy_j=marginal, foreground_util_share=fg_util_share,
        foreground_util_share_energy_j=share_energy,
        note=("device: everything the GPU drew during the foreground window; marginal: device minus the "
              "background's power measured alone (readiness) x window; util share: device x the "
              "foreground's share of per-process SM utilisation"),
    )
