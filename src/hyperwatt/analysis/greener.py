"""Question 2: settings that cut energy without losing performance, against the default setting.

A setting qualifies when its mean energy is at most (1 − s) × the baseline's and its primary
metric's mean is within a relative tolerance τ of the baseline's, in the metric's good direction
(at most τ worse; better is always fine). Candidates are ranked by saving; the Pareto front of
energy × metric over all settings is given beside them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hyperwatt.analysis.goals import Goal, GoalLookup, heuristic_goal
from hyperwatt.analysis.intervals import welch
from hyperwatt.analysis.pareto import pareto_mask
from hyperwatt.analysis.rows import MetricOrder, Row, RowGroup
from hyperwatt.analysis.settings import format_value
from hyperwatt.analysis.stats import Summary, summarize

DEFAULT_SAVING = 0.10
DEFAULT_TOLERANCE = 0.01
#: A baseline measured fewer times than this is weak evidence.
MIN_BASELINE_N = 3


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% t-interval (None for n = 1)."""

    n: int
    mean: float
    low: float | None
    high: float | None

    @classmethod
    def of(cls, s: Summary) -> Interval:
        return cls(s.n, s.mean, s.ci95_low, s.ci95_high)


@dataclass(frozen=True)
class SettingResult:
    name: str
    hyperparameters: dict[str, object]
    experiment_ids: tuple[str, ...]
    energy: Interval
    metric: Interval | None
    is_baseline: bool
    #: 1 − energy / baseline energy, with the 95% interval of that fraction (Welch, n ≥ 2 on both sides)
    saving: float | None = None
    saving_low: float | None = None
    saving_high: float | None = None
    metric_change: float | None = None  # relative, signed so that > 0 is better
    qualifies: bool = False
    on_front: bool = False
    weak: tuple[str, ...] = ()


@dataclass
class GreenerFinding:
    metric: str | None
    goal: Goal | None
    saving: float
    tolerance: float
    baseline: SettingResult | None
    settings: list[SettingResult] = field(default_factory=list)
    #: qualifying settings, largest saving first
    candidates: list[SettingResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.baseline is None:
            return "no default setting measured: nothing to compare against"
        if self.metric is None:
            return "no metric with a known goal: a loss of performance cannot be judged"
        if not self.candidates:
            return f"no setting saves ≥ {self.saving:.0%} energy with {self.metric} within {self.tolerance:.0%}"
        best = self.candidates[0]
        weak = " (weak evidence)" if best.weak else ""
        return (f"{len(self.candidates)} setting(s) qualify; best: {best.name} saves {best.saving:.1%} energy, "
                f"{self.metric} {_signed(best.metric_change)}{weak}")


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:+.2f}%".replace("-", "−")


def primary_metric(group: RowGroup, goals: GoalLookup, order: MetricOrder | None = None
                   ) -> tuple[str | None, Goal | None]:
    """The metric most rows report among those with a known goal; on a tie, the workload's first declared
    metric (`order`), then a name with a known goal; (None, None) if none."""
    counts: Counter[str] = Counter(k for r in group.rows for k, v in r.record.metrics.items()
                                   if isinstance(v, (int, float)) and math.isfinite(v))
    declared = [m.lower() for m in (order(group.key.workload) if order else [])]

    def rank(m: str) -> int:
        return declared.index(m.lower()) if m.lower() in declared else len(declared)

    ranked = sorted(counts, key=lambda m: (-counts[m], rank(m), heuristic_goal(m) is None, m))
    for m in ranked:
        goal = goals(group.key.workload, m)
        if goal is not None:
            return m, goal
    return None, None


def mixed_scale(values: Sequence[float]) -> bool:
    """Proportions mixed with percentages (or counts): some values in [0, 1] and some above 1."""
    return any(0 <= v <= 1 for v in values) and any(v > 1 for v in values)


def greener(group: RowGroup, goals: GoalLookup, saving: float = DEFAULT_SAVING,
            tolerance: float = DEFAULT_TOLERANCE, metric: str | None = None, order: MetricOrder | None = None
            ) -> GreenerFinding:
    if metric is not None:
        goal = goals(group.key.workload, metric)
    else:
        metric, goal = primary_metric(group, goals, order)
    by_setting: dict[tuple[str, ...], list[Row]] = {}
    for r in group.rows:
        by_setting.setdefault(r.setting(group.varying), []).append(r)
    base_key = next((k for k, rows in by_setting.items() if group.is_baseline(rows[0])), None)
    values = [v for r in group.rows if metric and (v := _metric(r, metric)) is not None]
    notes = []
    mixed = metric is not None and mixed_scale(values)
    if mixed:
        notes.append(f"{metric} mixes values in [0, 1] with values above 1 (ratios and percentages or counts)")
    missing = sum(1 for r in group.rows if metric and _metric(r, metric) is None)
    if metric and missing:
        notes.append(f"{missing} row(s) lack {metric}: they count for energy only")
    results = {k: _setting(group, rows, metric, k == base_key) for k, rows in by_setting.items()}
    base = results.get(base_key) if base_key is not None else None
    out = GreenerFinding(metric, goal, saving, tolerance, base, notes=notes)
    if base is None:
        out.settings = list(results.values())
        return out
    base_rows = by_setting[base_key]  # type: ignore[index]
    for k, s in results.items():
        results[k] = _judge(s, base, base_rows, by_setting[k], goal, saving, tolerance, mixed)
    out.baseline = results[base_key]  # type: ignore[index]
    settings = list(results.values())
    both = [s for s in settings if s.metric is not None]
    if goal is not None and both:
        mask = pareto_mask([(s.energy.mean, s.metric.mean) for s in both], ("min", goal))  # type: ignore[union-attr]
        front = {id(s) for s, on in zip(both, mask, strict=True) if on}
        settings = [_with(s, on_front=id(s) in front) for s in settings]
    out.settings = sorted(settings, key=lambda s: s.energy.mean)
    out.candidates = sorted((s for s in out.settings if s.qualifies), key=lambda s: -(s.saving or 0.0))
    return out


def _metric(r: Row, metric: str) -> float | None:
    v = r.record.metrics.get(metric)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def _setting(group: RowGroup, rows: list[Row], metric: str | None, is_baseline: bool) -> SettingResult:
    e = summarize([r.energy_j for r in rows])
    ms = [v for r in rows if metric and (v := _metric(r, metric)) is not None]
    m = summarize(ms)
    first = rows[0]
    name = "default" if is_baseline else ", ".join(
        f"{k}={format_value(first.value(k))}" for k in group.differs(first)) or "default values"
    assert e is not None
    return SettingResult(name, dict(sorted(first.hyperparameters.items())), tuple(r.id for r in rows),
                         Interval.of(e), Interval.of(m) if m else None, is_baseline)


def _judge(s: SettingResult, base: SettingResult, base_rows: list[Row], rows: list[Row], goal: Goal | None,
           saving: float, tolerance: float, mixed: bool) -> SettingResult:
    b = base.energy.mean
    sav = 1.0 - s.energy.mean / b if b > 0 else None
    lo = hi = None
    d = welch([r.energy_j for r in base_rows], [r.energy_j for r in rows])
    if sav is not None and d.low is not None and d.high is not None:
        lo, hi = -d.high / b, -d.low / b
    change = None
    if s.metric is not None and base.metric is not None and goal is not None:
        scale = abs(base.metric.mean)
        diff = s.metric.mean - base.metric.mean
        signed = diff if goal == "max" else -diff
        change = signed / scale if scale > 0 else (0.0 if signed == 0 else math.copysign(math.inf, signed))
    qualifies = (not s.is_baseline and sav is not None and sav >= saving - 1e-12 and change is not None
                 and change >= -tolerance - 1e-12)
    weak = []
    if qualifies:
        if base.energy.n < MIN_BASELINE_N:
            weak.append(f"baseline measured {base.energy.n} time(s)")
        if s.energy.n == 1:
            weak.append("setting seen once")
        if lo is not None and lo <= 0:
            weak.append("the saving's 95% interval includes 0")
        if mixed:
            weak.append("metric on a mixed scale")
    return _with(s, saving=sav, saving_low=lo, saving_high=hi, metric_change=change, qualifies=qualifies,
                 weak=tuple(weak))


def _with(s: SettingResult, **changes: object) -> SettingResult:
    return replace(s, **changes)  # type: ignore[arg-type]
