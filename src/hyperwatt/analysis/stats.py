"""Aggregates over repeats: mean, spread, 95% t-interval, and the propagated measurement uncertainty."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from scipy import stats as _st

from hyperwatt.analysis.quantities import Quantity, measure
from hyperwatt.analysis.settings import GroupKey, by_setting, setting_name, varying_hyperparameters
from hyperwatt.records import ExperimentRecord

#: A worst-case bound ±a taken as a rectangular distribution has standard uncertainty a/√3 (GUM, type B).
_RECTANGULAR = math.sqrt(3.0)
#: Coverage factor of expanded uncertainties (≈ 95%).
COVERAGE_K = 2.0


@dataclass(frozen=True)
class Summary:
    """One quantity over the runs of one setting.

    Run-to-run spread (type A): `std`, `sem`, the 95% t-interval `ci95_low..ci95_high` (None for n = 1).
    Measurement uncertainty (type B): `bound` = the mean of the runs' worst-case error bounds — a bound
    on the mean's measurement error that holds however the runs' errors correlate; None when unknown.
    """

    n: int
    mean: float
    std: float | None
    sem: float | None
    ci95_low: float | None
    ci95_high: float | None
    bound: float | None
    values: tuple[float, ...] = field(repr=False, default=())

    @property
    def standard_uncertainty(self) -> float | None:
        """Spread and measurement combined in quadrature (bound as rectangular); None if neither known."""
        parts = [x for x in (self.sem, None if self.bound is None else self.bound / _RECTANGULAR) if x is not None]
        return math.sqrt(sum(p * p for p in parts)) if parts else None

    @property
    def expanded_uncertainty(self) -> float | None:
        u = self.standard_uncertainty
        return None if u is None else COVERAGE_K * u


def summarize(values: Sequence[float], bounds: Sequence[float | None] | None = None) -> Summary | None:
    """Mean, sample std (ddof 1), SEM and the t-distribution 95% CI; None for no values."""
    n = len(values)
    if n == 0:
        return None
    mean = math.fsum(values) / n
    std = sem = lo = hi = None
    if n >= 2:
        spread = max(values) != min(values)  # identical values: exactly 0, not rounding noise
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if spread else 0.0
        sem = std / math.sqrt(n)
        half = float(_st.t.ppf(0.975, n - 1)) * sem
        lo, hi = mean - half, mean + half
    bound = None
    if bounds is not None and len(bounds) == n and all(b is not None for b in bounds):
        bound = math.fsum(b for b in bounds if b is not None) / n
    return Summary(n=n, mean=mean, std=std, sem=sem, ci95_low=lo, ci95_high=hi, bound=bound, values=tuple(values))


@dataclass(frozen=True)
class SettingStats:
    """The runs of one setting (same key_hash) of a group, aggregated per quantity."""

    group: GroupKey
    key_hash: str
    name: str
    hyperparameters: dict[str, Any]
    mutated: tuple[str, ...]
    labels: tuple[str, ...]
    experiment_ids: tuple[str, ...]
    is_reference: bool
    quantities: dict[str, Summary]
    #: Runs whose energy was left out (partial), counted per setting.
    energy_excluded: int = 0

    @property
    def n_runs(self) -> int:
        return len(self.experiment_ids)

    def get(self, q: Quantity) -> Summary | None:
        return self.quantities.get(q.key)


def setting_stats(group: GroupKey, records: Sequence[ExperimentRecord], quantities: Sequence[Quantity],
                  reference: str | None) -> list[SettingStats]:
    """One SettingStats per key_hash among `records` (valid runs of one group), in order of first run."""
    varying = varying_hyperparameters(records)
    out = []
    for key, runs in by_setting(records).items():
        summaries: dict[str, Summary] = {}
        for q in quantities:
            pairs = [measure(r, q) for r in runs]
            vals = [v for v, _ in pairs if v is not None]
            s = summarize(vals, [b for v, b in pairs if v is not None])
            if s is not None:
                summaries[q.key] = s
        first = runs[0]
        labels = tuple(dict.fromkeys(r.label for r in runs))
        out.append(SettingStats(
            group=group, key_hash=key,
            name=setting_name(first.hyperparameters, varying, key == reference, labels[0]),
            hyperparameters=dict(first.hyperparameters), mutated=tuple(first.mutated), labels=labels,
            experiment_ids=tuple(r.experiment_id for r in runs), is_reference=key == reference,
            quantities=summaries, energy_excluded=sum(r.energy.partial for r in runs),
        ))
    names = Counter(s.name for s in out)
    return [replace(s, name=f"{s.name} [{s.key_hash[:6]}]") if names[s.name] > 1 else s for s in out]
