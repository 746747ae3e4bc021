"""Question 3: is energy more susceptible to hyperparameter changes with a co-located background?

"Susceptible" is measured as the energy elasticity: the slope of log energy on log hyperparameter
(on the value itself where a value is ≤ 0), estimated per mode by least squares over all rows of
the mode with every numeric varying hyperparameter in the model (partial elasticities, valid for
one-at-a-time and joint mutation alike). Where that model cannot be fitted, the slope over the
isolated rows alone. The mode × hyperparameter interaction is the difference of the two slopes
(independent samples, Welch–Satterthwaite t). Beside it, the spread of energy per mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from hyperwatt.analysis.correlation import ALPHA, benjamini_hochberg
from hyperwatt.analysis.intervals import difference_test, ols
from hyperwatt.analysis.rows import RowGroup
from hyperwatt.analysis.settings import numeric

MEASURED_AS = ("the energy elasticity: the slope of log energy on log hyperparameter (on the raw value where "
               "a value is ≤ 0), per mode, with every numeric varying hyperparameter in one least-squares model; "
               "parallel is more susceptible when its |slope| is larger, significantly so when the mode × "
               "hyperparameter interaction (difference of slopes) has q < 0.05")
Scale = Literal["log", "linear"]


@dataclass(frozen=True)
class Elasticity:
    mode: str
    n: int
    slope: float
    low: float
    high: float
    se: float
    df: int
    model: Literal["partial", "isolated"]


@dataclass(frozen=True)
class SensitivityPair:
    """One (workload, hyperparameter) varied in both modes."""

    workload: str
    hyperparameter: str
    scale: Scale
    sequential: Elasticity | None
    parallel: Elasticity | None
    reason: str | None = None
    p: float | None = None
    q: float | None = None

    @property
    def more_sensitive(self) -> Literal["parallel", "sequential", "equal"] | None:
        if self.sequential is None or self.parallel is None:
            return None
        s, p = abs(self.sequential.slope), abs(self.parallel.slope)
        return "parallel" if p > s else "sequential" if s > p else "equal"

    @property
    def significant(self) -> bool:
        return self.q is not None and self.q < ALPHA


@dataclass(frozen=True)
class Spread:
    """Energy's spread over all rows of one workload in one mode."""

    workload: str
    mode: str
    n: int
    mean_j: float
    cv: float | None
    sd_log: float | None


@dataclass
class SensitivityFinding:
    pairs: list[SensitivityPair] = field(default_factory=list)
    spreads: list[Spread] = field(default_factory=list)
    measured_as: str = MEASURED_AS

    def summary(self) -> dict[str, int]:
        compared = [p for p in self.pairs if p.more_sensitive is not None]
        by_wl: dict[str, dict[str, Spread]] = {}
        for s in self.spreads:
            by_wl.setdefault(s.workload, {})[s.mode] = s
        both = [d for d in by_wl.values() if {"sequential", "parallel"} <= set(d)
                and d["sequential"].sd_log is not None and d["parallel"].sd_log is not None]
        return {
            "pairs": len(self.pairs), "compared": len(compared),
            "parallel_more_sensitive": sum(p.more_sensitive == "parallel" for p in compared),
            "parallel_significantly_more": sum(p.more_sensitive == "parallel" and p.significant for p in compared),
            "parallel_significantly_less": sum(p.more_sensitive == "sequential" and p.significant for p in compared),
            "workloads_in_both_modes": len(both),
            "workloads_parallel_wider_spread": sum(d["parallel"].sd_log > d["sequential"].sd_log  # type: ignore[operator]
                                                   for d in both),
        }

    @property
    def verdict(self) -> str:
        s = self.summary()
        if not s["compared"]:
            if not self.pairs:
                return "no workload was measured with a varying hyperparameter in both modes: nothing to compare"
            return "no pair had enough rows in both modes for an elasticity"
        return (f"parallel was more sensitive in {s['parallel_more_sensitive']} of {s['compared']} (workload, "
                f"hyperparameter) pair(s), significantly in {s['parallel_significantly_more']} and significantly "
                f"less in {s['parallel_significantly_less']}; energy spread wider in parallel for "
                f"{s['workloads_parallel_wider_spread']} of {s['workloads_in_both_modes']} workload(s)")


def spread(group: RowGroup) -> Spread:
    e = [r.energy_j for r in group.rows]
    mean = sum(e) / len(e)
    cv = sd_log = None
    if len(e) >= 2:
        sd = math.sqrt(sum((x - mean) ** 2 for x in e) / (len(e) - 1))
        cv = sd / mean if mean > 0 else None
        logs = [math.log(x) for x in e if x > 0]
        if len(logs) >= 2:
            m = sum(logs) / len(logs)
            sd_log = math.sqrt(sum((x - m) ** 2 for x in logs) / (len(logs) - 1))
    return Spread(_label(group), group.key.mode, len(e), mean, cv, sd_log)


def _label(group: RowGroup) -> str:
    """The workload, with the energy method when the report is split by method."""
    return group.key.workload + (f" · {group.key.method}" if group.key.method else "")


def sensitivity(groups: list[RowGroup]) -> SensitivityFinding:
    """Pairs of every workload measured in both modes; spreads of every group."""
    out = SensitivityFinding(spreads=[spread(g) for g in groups])
    by: dict[str, dict[str, RowGroup]] = {}
    for g in groups:
        by.setdefault(_label(g), {})[g.key.mode] = g
    pairs = []
    for workload, modes in sorted(by.items()):
        seq, par = modes.get("sequential"), modes.get("parallel")
        if seq is None or par is None:
            continue
        common = sorted(set(seq.numeric_varying()) & set(par.numeric_varying()))
        for hp in common:
            scale: Scale = "log" if all((numeric(r.value(hp)) or 0) > 0 for g in (seq, par) for r in g.rows) \
                else "linear"
            es, ep = _elasticity(seq, hp, scale), _elasticity(par, hp, scale)
            reason = None if es and ep else "too few rows or values to fit a slope in " + \
                " and ".join(m for m, e in (("sequential", es), ("parallel", ep)) if e is None)
            p = difference_test(es.slope, es.se, es.df, ep.slope, ep.se, ep.df) if es and ep else None
            pairs.append(SensitivityPair(workload, hp, scale, es, ep, reason, p))
    qs = iter(benjamini_hochberg([p.p for p in pairs if p.p is not None]))
    out.pairs = [SensitivityPair(**{**p.__dict__, "q": next(qs)}) if p.p is not None else p for p in pairs]
    return out


def _x(value: object, scale: Scale) -> float:
    x = numeric(value)
    assert x is not None
    return math.log(x) if scale == "log" else x


def _elasticity(group: RowGroup, hp: str, scale: Scale) -> Elasticity | None:
    rows = [r for r in group.rows if r.energy_j > 0]
    hps = [hp] + [k for k in group.numeric_varying() if k != hp]
    for model, names, use in (("partial", hps, rows),
                              ("isolated", [hp], [r for r in rows if group.at_reference(r, hps[1:])])):
        if len(use) < 3:
            continue
        scales = [scale] + ["log" if all((numeric(r.value(k)) or 0) > 0 for r in use) else "linear"
                            for k in names[1:]]
        x = np.array([[1.0] + [_x(r.value(k), s) for k, s in zip(names, scales, strict=True)] for r in use])
        y = np.array([math.log(r.energy_j) for r in use])
        fit = ols(x, y)
        if fit is None:
            continue
        lo, hi = fit.interval(1)
        return Elasticity(group.key.mode, len(use), float(fit.coef[1]), lo, hi, float(fit.se[1]), fit.df,
                          model)  # type: ignore[arg-type]
    return None
