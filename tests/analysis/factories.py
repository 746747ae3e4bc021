"""Hand-made experiment records with known numbers (no training runs)."""

from __future__ import annotations

from typing import Any

from hyperwatt.records import (
    Attribution, BackgroundRecord, Energy, ExperimentRecord, Flag, SensorEnergy,
)

_counter = {"n": 0}


def energy(gpu_j: float | None, gpu_unc_j: float | None = None, cpu_j: float | None = None,
           cpu_unc_j: float | None = None, idle_w: float | None = None, duration_s: float = 10.0,
           partial: bool = False, marginal_j: float | None = None, share: float | None = None,
           marginal_unc_j: float | None = None) -> Energy:
    """An energy section as the engine writes it: per-sensor rows plus domain totals."""
    sensors = []
    if gpu_j is not None:
        sensors.append(SensorEnergy(sensor="gpu0", domain="gpu", method="nvml-energy-counter",
                                    device="NVIDIA H100 80GB HBM3", energy_j=gpu_j, uncertainty_j=gpu_unc_j,
                                    net_energy_j=None if idle_w is None else gpu_j - idle_w * duration_s,
                                    idle_power_w=idle_w, mean_power_w=gpu_j / duration_s, duration_s=duration_s,
                                    sample_count=200, achieved_rate_hz=20.0, update_period_s=0.1, partial=partial))
    if cpu_j is not None:
        sensors.append(SensorEnergy(sensor="cpu", domain="cpu", method="rapl", device="package-0", energy_j=cpu_j,
                                    uncertainty_j=cpu_unc_j, duration_s=duration_s, sample_count=200,
                                    achieved_rate_hz=20.0, update_period_s=0.001))
    total = gpu_j + cpu_j if gpu_j is not None and cpu_j is not None else None
    attribution = None
    if marginal_j is not None:
        attribution = Attribution(device_energy_j=gpu_j, device_uncertainty_j=gpu_unc_j, background_alone_power_w=50.0,
                                  background_alone_source="alone window of 10.0 s after the readiness gate",
                                  foreground_marginal_energy_j=marginal_j,
                                  foreground_marginal_uncertainty_j=marginal_unc_j, foreground_util_share=share,
                                  foreground_util_share_energy_j=None if share is None or gpu_j is None
                                  else gpu_j * share, note="device vs marginal")
    available = gpu_j is not None or cpu_j is not None
    return Energy(available=available, reason=None if available else "no energy sensor available",
                  window_start_wall=1000.0, window_end_wall=1000.0 + duration_s, duration_s=duration_s,
                  gpu_energy_j=gpu_j, gpu_uncertainty_j=gpu_unc_j,
                  gpu_net_energy_j=None if idle_w is None or gpu_j is None else gpu_j - idle_w * duration_s,
                  cpu_energy_j=cpu_j, cpu_uncertainty_j=cpu_unc_j, cpu_method="rapl" if cpu_j is not None else None,
                  total_energy_j=total, partial=partial, sensors=sensors, attribution=attribution,
                  unavailable_sensors={} if available else {"gpu0": "no NVIDIA GPU"})


def record(workload: str = "examples/mnist", hp: dict[str, Any] | None = None, mutated: tuple[str, ...] = (),
           label: str | None = None, metrics: dict[str, float] | None = None, gpu_j: float | None = 100.0,
           gpu_unc_j: float | None = 1.0, status: str = "succeeded", mode: str = "sequential",
           duration_s: float = 10.0, flags: list[Flag] | None = None, session: str = "s1",
           background: str | None = None, **energy_kw: Any) -> ExperimentRecord:
    """One experiment; its key_hash derives from workload, mode, background and hyperparameters."""
    _counter["n"] += 1
    hp = dict(hp if hp is not None else {"learning_rate": 0.01, "epochs": 10})
    key = f"{workload}|{mode}|{background}|{sorted(hp.items())}"
    bg = BackgroundRecord(workload=background, hyperparameters={}, argv=["x"], effective=True, coverage=1.0) \
        if background else None
    return ExperimentRecord(
        experiment_id=f"e{_counter['n']:04d}", session_id=session, slot=_counter["n"],
        label=label or ("default" if not mutated else f"mutate {'+'.join(mutated)}"), workload=workload, mode=mode,
        status=status, key=key, key_hash=f"k{abs(hash(key)) % 10**12:012d}", mutated=list(mutated),
        hyperparameters=hp, duration_s=duration_s, started_wall=1000.0, ended_wall=1000.0 + duration_s,
        metrics=dict(metrics if metrics is not None else {"test_accuracy": 0.9, "test_loss": 0.3}),
        energy=energy(gpu_j, gpu_unc_j, duration_s=duration_s, **energy_kw), flags=flags or [],
        background=bg, environment={"host": "node-a", "gpus": [{"index": 0, "device": "NVIDIA H100 80GB HBM3"}],
                                    "driver": "550.54"},
    )


def with_train_phase(rec: ExperimentRecord, train_j: float, train_unc_j: float = 0.5, epochs: int | None = 2,
                     samples: int | None = 1000, duration_s: float = 4.0) -> ExperimentRecord:
    """The record with a marked training phase of `train_j` (the rest of the window is start-up)."""
    from hyperwatt.records import PhaseEnergy, Phases

    window = rec.energy.gpu_energy_j or 0.0
    startup = PhaseEnergy(phase="startup", start_s=0.0, duration_s=(rec.duration_s or 10.0) - duration_s,
                          gpu_energy_j=window - train_j, gpu_uncertainty_j=train_unc_j)
    train = PhaseEnergy(phase="train", start_s=startup.duration_s, duration_s=duration_s, samples=samples,
                        gpu_energy_j=train_j, gpu_uncertainty_j=train_unc_j, gpu_net_energy_j=train_j - 40.0)
    rec.phases = Phases(marked=True, source="metrics-file", slices=[startup, train], totals=[startup, train],
                        train_epochs=epochs, train_samples=samples)
    return rec
