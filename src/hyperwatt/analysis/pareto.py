"""Energy/performance trade-offs: Pareto fronts (energy ↓, metrics toward their goals) and J per point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hyperwatt.analysis.goals import Goal, percent_scale
from hyperwatt.analysis.quantities import Quantity, metric_quantity
from hyperwatt.analysis.stats import SettingStats


def dominance(points: Sequence[Sequence[float]], goals: Sequence[Goal]) -> list[list[int]]:
    """For each point, the indices of the points that dominate it (empty: on the Pareto front).

    `a` dominates `b` when it is at least as good in every objective and strictly better in one;
    equal points do not dominate each other, so ties stay on the front together.
    """
    if len(points) == 0:
        return []
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != len(goals):
        raise ValueError(f"points must have {len(goals)} coordinates each")
    signs = np.array([1.0 if g == "max" else -1.0 for g in goals])
    better = arr * signs  # higher is better in every column now
    out = []
    for row in better:
        geq = np.all(better >= row, axis=1)
        gt = np.any(better > row, axis=1)
        out.append([int(i) for i in np.flatnonzero(geq & gt)])
    return out


def pareto_mask(points: Sequence[Sequence[float]], goals: Sequence[Goal]) -> list[bool]:
    """True for the points on the Pareto front."""
    return [not d for d in dominance(points, goals)]


@dataclass(frozen=True)
class ParetoPoint:
    setting: SettingStats
    energy_j: float
    metric: float
    on_front: bool
    dominated_by: tuple[str, ...]
    #: Energy per percentage point of a maximised proportion metric (e.g. J per accuracy point).
    energy_per_point_j: float | None


@dataclass(frozen=True)
class ParetoFront:
    """Settings of one group on (energy ↓, one metric toward its goal)."""

    energy: Quantity
    metric: str
    goal: Goal
    points: tuple[ParetoPoint, ...]
    #: Settings left out because they lack the energy or the metric.
    missing: tuple[str, ...] = ()

    @property
    def front(self) -> list[ParetoPoint]:
        return sorted((p for p in self.points if p.on_front), key=lambda p: p.energy_j)


def pareto_front(settings: Sequence[SettingStats], energy: Quantity, metric: str, goal: Goal) -> ParetoFront:
    """The front over setting means; J per point where the metric is a maximised proportion."""
    mq = metric_quantity(metric)
    usable = [s for s in settings if s.get(energy) is not None and s.get(mq) is not None]
    missing = tuple(s.name for s in settings if s not in usable)
    pts = [(s.get(energy).mean, s.get(mq).mean) for s in usable]  # type: ignore[union-attr]
    dom = dominance(pts, ("min", goal))
    scale = percent_scale(metric, [m for _, m in pts]) if goal == "max" else None
    points = tuple(
        ParetoPoint(
            setting=s, energy_j=e, metric=m, on_front=not d,
            dominated_by=tuple(usable[i].name for i in d),
            energy_per_point_j=e / (m * scale) if scale is not None and m > 0 and e > 0 else None,
        )
        for s, (e, m), d in zip(usable, pts, dom, strict=True)
    )
    return ParetoFront(energy=energy, metric=metric, goal=goal, points=points, missing=missing)


def joint_front(settings: Sequence[SettingStats], energy: Quantity, goals: dict[str, Goal]) -> set[str]:
    """key_hashes of the settings on the front of energy and all goal-directed metrics at once."""
    metrics = sorted(goals)
    usable = [s for s in settings if s.get(energy) is not None
              and all(s.get(metric_quantity(m)) is not None for m in metrics)]
    pts = [[s.get(energy).mean] + [s.get(metric_quantity(m)).mean for m in metrics]  # type: ignore[union-attr]
           for s in usable]
    mask = pareto_mask(pts, ["min", *(goals[m] for m in metrics)])
    return {s.key_hash for s, on in zip(usable, mask, strict=True) if on}
