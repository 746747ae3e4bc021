"""The per-run quantities the analysis aggregates: energies (with their error bounds), duration, metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

from hyperwatt.records import ExperimentRecord

Kind = Literal["energy", "duration", "metric"]


@dataclass(frozen=True)
class Quantity:
    """One thing measured per run. `key` is a record field name, or `metric:<name>` for a model metric."""

    key: str
    label: str
    unit: str
    kind: Kind
    nonnegative: bool = False  # physically ≥ 0: an interval is shown clipped at 0

    @property
    def metric(self) -> str | None:
        return self.key.split(":", 1)[1] if self.kind == "metric" else None


GPU_ENERGY = Quantity("gpu_energy_j", "GPU energy", "J", "energy", nonnegative=True)
CPU_ENERGY = Quantity("cpu_energy_j", "CPU energy", "J", "energy", nonnegative=True)
TOTAL_ENERGY = Quantity("total_energy_j", "total energy", "J", "energy", nonnegative=True)
NET_ENERGY = Quantity("gpu_net_energy_j", "GPU energy above idle", "J", "energy")
MARGINAL_ENERGY = Quantity("fg_marginal_energy_j", "foreground marginal GPU energy", "J", "energy")
SHARE_ENERGY = Quantity("fg_util_share_energy_j", "foreground utilisation-share GPU energy", "J", "energy", nonnegative=True)
DURATION = Quantity("duration_s", "duration", "s", "duration", nonnegative=True)
#: The training phase (records' `phases`, from the training's own markers): what hyperparameters act on.
TRAIN_GPU_ENERGY = Quantity("phase:train:gpu_energy_j", "training-phase GPU energy", "J", "energy", nonnegative=True)
TRAIN_NET_ENERGY = Quantity("phase:train:gpu_net_energy_j", "training-phase GPU energy above idle", "J", "energy")
TRAIN_TOTAL_ENERGY = Quantity("phase:train:total_energy_j", "training-phase total energy", "J", "energy",
                              nonnegative=True)
TRAIN_EPOCH_ENERGY = Quantity("per_epoch:train:gpu_energy_j", "training GPU energy per epoch", "J", "energy",
                              nonnegative=True)
TRAIN_SAMPLE_ENERGY = Quantity("per_sample:train:gpu_energy_j", "training GPU energy per sample", "J", "energy",
                               nonnegative=True)
TRAIN_DURATION = Quantity("phase:train:duration_s", "training-phase duration", "s", "duration", nonnegative=True)
PHASE_ENERGIES = (TRAIN_GPU_ENERGY, TRAIN_NET_ENERGY, TRAIN_TOTAL_ENERGY, TRAIN_EPOCH_ENERGY, TRAIN_SAMPLE_ENERGY)
ENERGIES = (GPU_ENERGY, CPU_ENERGY, TOTAL_ENERGY, NET_ENERGY, MARGINAL_ENERGY, SHARE_ENERGY, *PHASE_ENERGIES)
#: Which energy the trade-off numbers use: the first of these that the group's runs measured most often.
#: Parallel mode uses the whole device over the foreground's window too (what the seed analysed); the
#: attribution rules are shown beside it, labelled, never ranked on (docs/measurement.md, "Attribution").
PRIMARY_PREFERENCE = {
    "sequential": (GPU_ENERGY, TOTAL_ENERGY, CPU_ENERGY),
    "parallel": (GPU_ENERGY, TOTAL_ENERGY, CPU_ENERGY),
}


def metric_quantity(name: str) -> Quantity:
    return Quantity(f"metric:{name}", name, "", "metric")


def _finite(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def measure(record: ExperimentRecord, q: Quantity) -> tuple[float | None, float | None]:
    """(value, worst-case error bound) of one run; (None, None) when not measured.

    Energy of a run whose energy is partial is None: it covers only part of the window.
    The bound of the net energy is the GPU counter's alone (the idle power's error is not in the
    records); the marginal energy's is the record's own (counter, background-alone power and its
    spread); the utilisation-share energy has none (None: not stated).
    """
    if q.kind == "metric":
        return _finite(record.metrics.get(q.metric or "")), None
    if ":" in q.key:
        return _phase(record, q.key)
    if q.kind == "duration":
        return _finite(record.duration_s), None
    e = record.energy
    if e.partial:
        return None, None
    if q.key in ("fg_marginal_energy_j", "fg_util_share_energy_j"):
        return _attributed(record, q.key)
    value = _finite(getattr(e, q.key))
    if value is None:
        return None, None
    if q.key in ("gpu_energy_j", "gpu_net_energy_j"):
        return value, _finite(e.gpu_uncertainty_j)
    if q.key == "cpu_energy_j":
        return value, _finite(e.cpu_uncertainty_j)
    bounds = [s.uncertainty_j for s in e.sensors if s.energy_j is not None]
    ok = bool(bounds) and all(_finite(b) is not None for b in bounds)
    return value, (sum(b for b in bounds if b is not None) if ok else None)


def _phase(record: ExperimentRecord, key: str) -> tuple[float | None, float | None]:
    """`phase:<phase>:<field>`, `per_epoch:…`, `per_sample:…` from the record's phases (None: the run
    has no such marked phase, or its energy there is partial or unknown)."""
    kind, name, field = key.split(":", 2)
    phases = record.phases
    total = phases.total(name) if phases is not None and phases.marked else None
    if total is None or (total.partial and field != "duration_s"):
        return None, None
    value = _finite(getattr(total, field, None))
    if value is None:
        return None, None
    if field == "duration_s":
        return value, None
    bound = _finite(total.cpu_uncertainty_j if field.startswith("cpu") else total.gpu_uncertainty_j)
    if field == "total_energy_j":
        parts = [u for e, u in ((total.gpu_energy_j, total.gpu_uncertainty_j),
                                (total.cpu_energy_j, total.cpu_uncertainty_j)) if e is not None]
        bound = sum(u for u in parts if u is not None) if all(_finite(u) is not None for u in parts) else None
    divisor = {"phase": 1, "per_epoch": phases.train_epochs if phases else None,
               "per_sample": total.samples}.get(kind)
    if not divisor:
        return None, None
    return value / divisor, (None if bound is None else bound / divisor)


def _attributed(record: ExperimentRecord, key: str) -> tuple[float | None, float | None]:
    a = record.energy.attribution
    if a is None:
        return None, None
    if key == "fg_marginal_energy_j":
        return _finite(a.foreground_marginal_energy_j), _finite(a.foreground_marginal_uncertainty_j)
    return _finite(a.foreground_util_share_energy_j), None


def stated(q: Quantity, records: Sequence[ExperimentRecord]) -> bool:
    """Whether every run measuring `q` states its uncertainty. An energy without a stated bound is
    shown but never ranked on (no effect, change or front); metrics and durations are judged by
    their spread over repeats."""
    if q.kind != "energy":
        return True
    pairs = [measure(r, q) for r in records]
    return all(b is not None for v, b in pairs if v is not None)


def metric_names(records: Sequence[ExperimentRecord]) -> list[str]:
    """Every numeric metric any of the records reported, sorted."""
    return sorted({k for r in records for k, v in r.metrics.items() if _finite(v) is not None})


def primary_energy(mode: str, records: Sequence[ExperimentRecord]) -> Quantity | None:
    """The energy the trade-off numbers use; None when no run of the group measured any.

    The training-phase GPU energy when every run that measured energy marked its training phase
    (the part the hyperparameters act on, without start-up and teardown noise); otherwise the
    whole window's, by PRIMARY_PREFERENCE. Both are shown side by side, labelled."""
    window = [r for r in records if measure(r, GPU_ENERGY)[0] is not None]
    if window and all(measure(r, TRAIN_GPU_ENERGY)[0] is not None for r in window):
        return TRAIN_GPU_ENERGY
    best: tuple[int, Quantity] | None = None
    for q in PRIMARY_PREFERENCE.get(mode, PRIMARY_PREFERENCE["sequential"]):
        count = sum(measure(r, q)[0] is not None for r in records)
        if count and (best is None or count > best[0]):
            best = (count, q)
    return best[1] if best else None
