"""Effects of hyperparameters: Spearman rank correlations and changes relative to the default setting."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any, Literal, Sequence

import numpy as np
from scipy import stats as _st

from hyperwatt.analysis.formatting import p_phrase
from hyperwatt.analysis.goals import percent_scale
from hyperwatt.analysis.quantities import Quantity, measure
from hyperwatt.analysis.settings import format_value, numeric
from hyperwatt.analysis.stats import COVERAGE_K, SettingStats, Summary
from hyperwatt.records import ExperimentRecord

#: Fewer settings than this give no correlation.
MIN_POINTS = 3
#: Up to this many settings the p-value is exact (8! = 40 320 orderings).
EXACT_MAX_SETTINGS = 8


@dataclass(frozen=True)
class Correlation:
    """Spearman's ρ between a hyperparameter and a quantity over distinct settings (repeats averaged),
    within one context: the values of the other hyperparameters that stay fixed across these settings
    (`context`, e.g. `epochs=2`; empty when the group has one). `varied_with`: other hyperparameters
    drawn jointly with this one, which the ρ cannot tell apart from it. `runs`: the fewest and the most
    runs of one setting — with one run, the run-to-run spread is unknown."""

    hyperparameter: str
    quantity: Quantity
    n: int  # distinct settings
    rho: float
    p_value: float
    runs: tuple[int, int] = (1, 1)
    context: str = ""
    varied_with: tuple[str, ...] = ()

    @property
    def spread_known(self) -> bool:
        return self.runs[0] >= 2

    def text(self) -> str:
        rho = f"{self.rho:+.2f}".replace("-", "−")
        lo, hi = self.runs
        per = f"{lo}" if lo == hi else f"{lo}–{hi}"
        where = f"; at {self.context}" if self.context else ""
        joint = f"; {', '.join(self.varied_with)} varied with it (confounded)" if self.varied_with else ""
        return (f"{self.hyperparameter} vs {self.quantity.label}: ρ = {rho} ({p_phrase(self.p_value)}, "
                f"n = {self.n} settings × {per} run{'s' if hi > 1 else ''}{where}{joint})")


def runs_for(records: Sequence[ExperimentRecord], hyperparameter: str) -> list[ExperimentRecord]:
    """The runs that speak about one hyperparameter: unmutated ones (default, fixed settings) and those
    that mutated it (alone or jointly), not one-at-a-time mutations of another hyperparameter."""
    return [r for r in records if not r.mutated or hyperparameter in r.mutated]


def correlations(records: Sequence[ExperimentRecord], hyperparameters: Sequence[str],
                 quantities: Sequence[Quantity]) -> list[Correlation]:
    """Every hyperparameter's correlations, computed apart in each context where the other, unmutated
    hyperparameters are equal (runs of `epochs = 1` and `epochs = 2` are never pooled): see `_correlations`."""
    out: list[Correlation] = []
    for hp in hyperparameters:
        own = runs_for(records, hp)
        joint = sorted({k for r in own if hp in r.mutated for k in r.mutated if k != hp})
        fixed = [k for k in hyperparameters if k != hp and k not in joint]
        strata: dict[str, list[ExperimentRecord]] = {}
        for r in own:
            strata.setdefault(_context(r, fixed), []).append(r)
        for context, runs in strata.items():
            varied = tuple(k for k in joint if len({repr(r.hyperparameters.get(k)) for r in runs}) > 1)
            out += [replace(c, context=context if len(strata) > 1 else "", varied_with=varied)
                    for c in _correlations(runs, [hp], quantities)]
    return out


def _context(r: ExperimentRecord, names: Sequence[str]) -> str:
    """`epochs=2, size=tiny`: the run's values of the named hyperparameters."""
    return ", ".join(f"{k}={format_value(r.hyperparameters.get(k))}" for k in names)


def _correlations(records: Sequence[ExperimentRecord], hyperparameters: Sequence[str],
                  quantities: Sequence[Quantity]) -> list[Correlation]:
    """ρ and its p-value for every numeric hyperparameter × quantity with ≥ 3 settings and variation in both.

    The unit is the setting: repeats of one setting are averaged first, since seeded repeats are
    copies, not independent evidence (nine runs of three settings would otherwise claim p < 0.001).
    Up to EXACT_MAX_SETTINGS settings the p-value is exact (every permutation), beyond that
    scipy's t approximation. A run that mutated other hyperparameters but not this one (one-at-a-time
    mutation of another) is left out: there this one sits at its default while something else
    changes the outcome, which would be credited to it. Unmutated runs (the default, fixed
    settings) and joint mutations stay."""
    out = []
    for hp in hyperparameters:
        own = runs_for(records, hp)
        for q in quantities:
            by_setting: dict[str, tuple[float, list[float]]] = {}
            for r in own:
                x, y = numeric(r.hyperparameters.get(hp)), measure(r, q)[0]
                if x is not None and y is not None:
                    by_setting.setdefault(_setting(r), (x, []))[1].append(y)
            pts = [(x, sum(ys) / len(ys)) for x, ys in by_setting.values()]
            if len(pts) < MIN_POINTS or len({x for x, _ in pts}) < 2 or len({y for _, y in pts}) < 2:
                continue
            xs, ys = [x for x, _ in pts], [y for _, y in pts]
            rho = float(_st.spearmanr(xs, ys).statistic)
            counts = [len(ys) for _, ys in by_setting.values()]
            if math.isfinite(rho):
                out.append(Correlation(hp, q, len(pts), rho, _p_value(xs, ys, rho), (min(counts), max(counts))))
    return out


def _setting(r: ExperimentRecord) -> str:
    return repr(sorted((k, repr(v)) for k, v in r.hyperparameters.items()))


def _p_value(xs: list[float], ys: list[float], rho: float) -> float:
    """Two-sided p of Spearman's ρ: exact over all orderings of ys for few points, else scipy's."""
    if len(xs) > EXACT_MAX_SETTINGS:
        return float(_st.spearmanr(xs, ys).pvalue)
    rx, ry = _st.rankdata(xs), _st.rankdata(ys)
    centred_x, centred_y = rx - rx.mean(), ry - ry.mean()
    scale = math.sqrt(float((centred_x ** 2).sum()) * float((centred_y ** 2).sum()))
    orderings = np.array(list(itertools.permutations(centred_y)))  # every ordering, one matrix product
    rhos = np.abs(orderings @ centred_x) / scale
    return float(np.mean(rhos >= abs(rho) - 1e-12))


@dataclass(frozen=True)
class HyperparameterChange:
    name: str
    reference: Any
    value: Any

    @property
    def ratio(self) -> float | None:
        a, b = numeric(self.reference), numeric(self.value)
        if a is None or b is None or isinstance(self.value, bool) or a == 0 or b / a <= 0:
            return None
        return b / a

    def text(self, compact: bool = False) -> str:
        r = self.ratio
        if compact and r is not None:
            return f"{self.name} ×{r:.3g}"
        move = f"{self.name} {format_value(self.reference)}→{format_value(self.value)}"
        return move + (f" (×{r:.3g})" if r is not None else "")


@dataclass(frozen=True)
class Delta:
    """A quantity of a setting against the default setting.

    `change` is relative (fraction) for energy, duration and most metrics, or a difference in
    percentage points (`unit` "pp") for proportion metrics such as accuracy. `uncertainty` is the
    expanded (k = 2) uncertainty of `change`, from both settings' spread and measurement bounds;
    None when neither setting has a spread or bound. `p_value`: Welch's t-test over runs (n ≥ 2 each).
    `ci95`: the 95% interval of `change` when both settings ran at least twice (run-to-run spread
    known): spread and measurement bounds combined, its coverage factor from Student's t with the
    Welch–Satterthwaite degrees of freedom (GUM G.4). None with one run on either side: then the
    spread is unknown and no effect can be claimed, whatever the size of `change`.
    """

    quantity: Quantity
    reference: float
    value: float
    change: float
    uncertainty: float | None
    unit: Literal["%", "pp"]
    p_value: float | None
    n: tuple[int, int] = (1, 1)  # runs of the reference, runs of the setting
    ci95: tuple[float, float] | None = None

    @property
    def spread_known(self) -> bool:
        return min(self.n) >= 2

    @property
    def claimed(self) -> bool:
        """An effect: the spread is known and the 95% interval excludes no change."""
        return self.ci95 is not None and (self.ci95[0] > 0 or self.ci95[1] < 0)

    def _fmt(self, x: float) -> str:
        text = f"{_pp(x)} pp" if self.unit == "pp" else f"{x * 100:+.1f}%"
        return text.replace("-", "−")

    def text(self) -> str:
        """`total energy −20.2% (95% CI −31.0% … −9.4%)`; without a known spread, the ± of the measurement."""
        body = self._fmt(self.change)
        if self.ci95 is not None:
            lo, hi = self.ci95
            return f"{self.quantity.label} {body} (95% CI {self._fmt(lo)} … {self._fmt(hi)})"
        if self.uncertainty is None:
            unc = ""
        elif self.unit == "pp":
            unc = f" ± {self.uncertainty:.2g}"
        else:
            unc = f" ± {self.uncertainty * 100:.1f}%"
        return f"{self.quantity.label} {body}{unc}"


def _pp(x: float) -> str:
    """Signed percentage points: one decimal; two significant digits below 0.1."""
    return format(x, "+.2g" if 0 < abs(x) < 0.1 else "+.1f")


@dataclass(frozen=True)
class SettingChange:
    """A setting against the group's default: what changed and what it did."""

    setting: SettingStats
    changes: tuple[HyperparameterChange, ...]
    deltas: tuple[Delta, ...]

    def delta(self, q: Quantity) -> Delta | None:
        return next((d for d in self.deltas if d.quantity.key == q.key), None)

    def text(self, quantities: Sequence[Quantity] | None = None) -> str:
        """e.g. `learning_rate ×2 → GPU energy −3.0% ± 1.0%, test_accuracy +0.40 pp`."""
        wanted = self.deltas if quantities is None else [d for q in quantities if (d := self.delta(q))]
        what = ", ".join(c.text(compact=True) for c in self.changes) or self.setting.name
        return f"{what} → " + (", ".join(d.text() for d in wanted) or "no common quantity measured")


def changes_vs_reference(settings: Sequence[SettingStats], reference: SettingStats,
                         quantities: Sequence[Quantity]) -> list[SettingChange]:
    out = []
    for s in settings:
        if s.key_hash == reference.key_hash:
            continue
        names = sorted(set(s.hyperparameters) | set(reference.hyperparameters),
                       key=lambda k: (k not in s.mutated, k))
        changes = tuple(HyperparameterChange(k, reference.hyperparameters.get(k), s.hyperparameters.get(k))
                        for k in names if reference.hyperparameters.get(k) != s.hyperparameters.get(k))
        deltas = []
        for q in quantities:
            ref, cur = reference.get(q), s.get(q)
            if ref is not None and cur is not None:
                d = delta(q, ref, cur)
                if d is not None:
                    deltas.append(d)
        out.append(SettingChange(s, changes, tuple(deltas)))
    return out


def delta(q: Quantity, ref: Summary, cur: Summary) -> Delta | None:
    """`cur` against `ref`; None when a relative change is undefined (reference mean 0)."""
    p = None
    if ref.n >= 2 and cur.n >= 2 and (ref.std or cur.std):
        p = float(_st.ttest_ind(cur.values, ref.values, equal_var=False).pvalue)
    scale = percent_scale(q.metric, ref.values + cur.values) if q.metric else None
    u_ref, u_cur = ref.standard_uncertainty, cur.standard_uncertainty
    known = [u for u in (u_ref, u_cur) if u is not None]
    n = (ref.n, cur.n)
    if scale is not None:
        unc = COVERAGE_K * scale * math.sqrt(sum(u * u for u in known)) if known else None
        change = (cur.mean - ref.mean) * scale
        ci = _interval(change, [(ref, scale), (cur, scale)])
        return Delta(q, ref.mean, cur.mean, change, unc, "pp", p, n, ci)
    if ref.mean == 0:
        return None
    ratio = cur.mean / ref.mean
    rel = [(u / m) ** 2 for u, m in ((u_ref, ref.mean), (u_cur, cur.mean)) if u is not None and m != 0]
    unc = COVERAGE_K * abs(ratio) * math.sqrt(sum(rel)) if rel else None
    ci = None if cur.mean == 0 else _interval(ratio - 1.0, [(ref, abs(ratio) / ref.mean), (cur, abs(ratio) / cur.mean)],
                                              with_bounds=not _common_scale(ref, cur))
    if ci is not None and q.nonnegative:  # a quantity that cannot be negative cannot fall by more than 100%
        ci = (max(ci[0], -1.0), ci[1])
    return Delta(q, ref.mean, cur.mean, ratio - 1.0, unc, "%", p, n, ci)


def _common_scale(ref: Summary, cur: Summary) -> bool:
    """Both bounds are one fixed fraction of their value (a CPU-time estimate's watts per CPU, off by a
    factor shared by every run on the machine): a common scale error, which cancels in a ratio."""
    if ref.bound is None or cur.bound is None or ref.mean == 0 or cur.mean == 0:
        return False
    a, b = ref.bound / abs(ref.mean), cur.bound / abs(cur.mean)
    return a > 0 and math.isclose(a, b, rel_tol=1e-6)


def _interval(change: float, parts: Sequence[tuple[Summary, float]], with_bounds: bool = True
              ) -> tuple[float, float] | None:
    """95% interval of `change` from each summary's standard error (type A, n − 1 degrees of freedom)
    and measurement bound (type B, taken as rectangular; left out where it cancels), each scaled by
    its sensitivity coefficient; None unless every summary has n ≥ 2 (GUM G.4, Welch–Satterthwaite)."""
    if any(s.n < 2 or s.sem is None for s, _ in parts):
        return None
    type_a = [(c * (s.sem or 0.0), s.n - 1) for s, c in parts]
    type_b = [c * s.bound / math.sqrt(3.0) for s, c in parts if s.bound is not None and with_bounds]
    u2 = sum(u * u for u, _ in type_a) + sum(u * u for u in type_b)
    if u2 == 0:
        return (change, change)
    denominator = sum(u ** 4 / dof for u, dof in type_a)
    k = 1.959964 if denominator == 0 else float(_st.t.ppf(0.975, u2 * u2 / denominator))
    half = k * math.sqrt(u2)
    return (change - half, change + half)
