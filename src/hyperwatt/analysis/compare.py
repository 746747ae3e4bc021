"""`hyperwatt compare A B`: the same settings measured twice (two GPUs, two code versions, two sessions).

A side is a session id or a filter `key=value[,key=value…]` over the store's experiments. Settings
are matched on workload, mode and every hyperparameter (missing ones at the workload's default);
for each matched setting: energy and primary metric on both sides, the difference B − A with its
95% Welch interval, and over all matched settings the geometric mean energy ratio B/A.
"""

from __future__ import annotations

import fnmatch
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from scipy import stats as _st

from hyperwatt.analysis.goals import Goal, GoalLookup
from hyperwatt.analysis.greener import Interval, primary_metric
from hyperwatt.analysis.intervals import Difference, welch
from hyperwatt.analysis.rows import DefaultsLookup, MetricOrder, Row, RowGroup, finding_groups
from hyperwatt.analysis.settings import format_value
from hyperwatt.analysis.stats import summarize
from hyperwatt.errors import ConfigError
from hyperwatt.records import ExperimentRecord


def _gpus(r: ExperimentRecord) -> list[str]:
    found = [str(g.get("device")) for g in r.environment.get("gpus") or [] if isinstance(g, dict)]
    return found + [s.device for s in r.energy.sensors if s.domain == "gpu" and s.device]


#: Filter keys: how each reads a record (a value matches as a shell pattern, case-insensitively).
FILTERS: dict[str, Callable[[ExperimentRecord], list[str]]] = {
    "session": lambda r: [r.session_id],
    "workload": lambda r: [r.workload],
    "mode": lambda r: [r.mode],
    "background": lambda r: [r.background.workload if r.background else ""],
    "host": lambda r: [str(r.environment.get("host", ""))],
    "gpu": _gpus,
    "method": lambda r: [s.method for s in r.energy.sensors] + ([r.energy.gpu_method] if r.energy.gpu_method else []),
    "label": lambda r: [r.label],
    "plan": lambda r: [r.plan_hash],
    "version": lambda r: [str(r.environment.get("hyperwatt", ""))],
    "torch": lambda r: [str(r.environment.get("torch", ""))],
    "driver": lambda r: [str(r.environment.get("driver", ""))],
}


def select(records: Sequence[ExperimentRecord], sessions: Sequence[str], spec: str, source: str) -> list[ExperimentRecord]:
    """The records a side names: a session id, or `key=value[,key=value…]` (every condition must hold)."""
    if spec in sessions:
        return [r for r in records if r.session_id == spec]
    if "=" not in spec:
        known = ", ".join(list(sessions)[-5:]) or "none"
        raise ConfigError(source, "compare", f"{spec!r} is neither a session (recent: {known}) nor a filter such as "
                          "'session=ID,workload=examples/*' (keys: " + ", ".join(FILTERS) + ")")
    conditions = []
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in FILTERS:
            raise ConfigError(source, "compare", f"{part!r} in {spec!r}: filter keys are {', '.join(FILTERS)}")
        conditions.append((FILTERS[key], value.strip().lower()))
    out = [r for r in records if all(any(fnmatch.fnmatchcase(v.lower(), want) for v in read(r))
                                     for read, want in conditions)]
    if not out:
        raise ConfigError(source, "compare", f"no experiment matches {spec!r}")
    return out


@dataclass(frozen=True)
class Side:
    n: int
    energy: Interval
    metric: Interval | None
    experiment_ids: tuple[str, ...]


@dataclass(frozen=True)
class MatchedSetting:
    workload: str
    mode: str
    setting: str
    a: Side
    b: Side
    #: B − A of energy (J) and of the metric, each with its 95% Welch interval
    energy: Difference
    metric: Difference | None

    @property
    def energy_change(self) -> tuple[float, float | None, float | None]:
        """(B / A − 1, its interval's low, high), the interval relative to A's mean."""
        base = self.a.energy.mean
        lo = None if self.energy.low is None else self.energy.low / base
        hi = None if self.energy.high is None else self.energy.high / base
        return self.energy.diff / base, lo, hi


@dataclass
class Comparison:
    a_label: str
    b_label: str
    matched: list[MatchedSetting] = field(default_factory=list)
    metrics: dict[str, tuple[str, Goal | None]] = field(default_factory=dict)  # workload · mode -> metric
    energies: dict[str, str] = field(default_factory=dict)  # workload · mode -> energy quantity label
    methods_a: Counter[str] = field(default_factory=Counter)
    methods_b: Counter[str] = field(default_factory=Counter)
    only_a: int = 0
    only_b: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def mixed_methods(self) -> bool:
        return len(set(self.methods_a) | set(self.methods_b)) > 1

    def overall(self) -> tuple[float, float | None, float | None, int] | None:
        """Geometric mean of energy B / A over matched settings, − 1, with its 95% t-interval; None without pairs."""
        logs = [math.log(m.b.energy.mean / m.a.energy.mean) for m in self.matched
                if m.a.energy.mean > 0 and m.b.energy.mean > 0]
        if not logs:
            return None
        mean = sum(logs) / len(logs)
        if len(logs) < 2:
            return math.exp(mean) - 1, None, None, 1
        sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
        half = float(_st.t.ppf(0.975, len(logs) - 1)) * sd / math.sqrt(len(logs))
        return math.exp(mean) - 1, math.exp(mean - half) - 1, math.exp(mean + half) - 1, len(logs)

    @property
    def verdict(self) -> str:
        o = self.overall()
        if o is None:
            return f"no setting was measured on both sides ({self.only_a} only in A, {self.only_b} only in B)"
        change, lo, hi, n = o
        ci = "" if lo is None else f" (95% CI {lo:+.1%} … {hi:+.1%})"
        text = f"over {n} matched setting(s), B uses {change:+.1%} energy relative to A{ci}"
        if self.mixed_methods:
            text += "; the sides rest on different energy methods, so part of the difference is the method's"
        return text.replace("-", "−")


def compare(a: Sequence[ExperimentRecord], b: Sequence[ExperimentRecord], defaults: DefaultsLookup,
            goals: GoalLookup, a_label: str = "A", b_label: str = "B", metric_order: MetricOrder | None = None
            ) -> Comparison:
    out = Comparison(a_label, b_label)
    ga = {(g.key.workload, g.key.mode): g for g in finding_groups(a, defaults)}
    gb = {(g.key.workload, g.key.mode): g for g in finding_groups(b, defaults)}
    for g in ga.values():
        out.methods_a.update(g.methods)
    for g in gb.values():
        out.methods_b.update(g.methods)
    for key in sorted(set(ga) | set(gb)):
        if key not in ga or key not in gb:
            side = ga.get(key) or gb[key]
            n = len(_settings(side, sorted(side.varying)))
            out.only_a += n if key in ga else 0
            out.only_b += n if key in gb else 0
            continue
        left, right = ga[key], gb[key]
        title = f"{key[0]} · {key[1]}"
        if left.energy.key != right.energy.key:
            out.notes.append(f"{title}: A's energy is {left.energy.label}, B's {right.energy.label}")
        out.energies[title] = left.energy.label
        metric, goal = primary_metric(left, goals, metric_order)
        out.metrics[title] = (metric or "—", goal)
        names = sorted({k for g in (left, right) for r in g.rows for k in r.hyperparameters})
        sa, sb = _settings(left, names), _settings(right, names)
        for skey in sa.keys() & sb.keys():
            ra, rb = sa[skey], sb[skey]
            out.matched.append(_match(key, _name(left, ra[0]), ra, rb, metric))
        out.only_a += len(sa.keys() - sb.keys())
        out.only_b += len(sb.keys() - sa.keys())
    out.matched.sort(key=lambda m: (m.workload, m.mode, m.setting))
    return out


def _settings(group: RowGroup, names: list[str]) -> dict[tuple[str, ...], list[Row]]:
    out: dict[tuple[str, ...], list[Row]] = {}
    for r in group.rows:
        out.setdefault(r.setting(names), []).append(r)
    return out


def _name(group: RowGroup, row: Row) -> str:
    return ", ".join(f"{k}={format_value(row.value(k))}" for k in group.differs(row)) or "default"


def _metric_values(rows: list[Row], metric: str | None) -> list[float]:
    if metric is None:
        return []
    return [float(v) for r in rows if isinstance(v := r.record.metrics.get(metric), (int, float)) and math.isfinite(v)]


def _side(rows: list[Row], metric: str | None) -> Side:
    e = summarize([r.energy_j for r in rows])
    m = summarize(_metric_values(rows, metric))
    assert e is not None
    return Side(len(rows), Interval.of(e), Interval.of(m) if m else None, tuple(r.id for r in rows))


def _match(key: tuple[str, str], name: str, ra: list[Row], rb: list[Row], metric: str | None) -> MatchedSetting:
    ma, mb = _metric_values(ra, metric), _metric_values(rb, metric)
    return MatchedSetting(key[0], key[1], name, _side(ra, metric), _side(rb, metric),
                          welch([r.energy_j for r in ra], [r.energy_j for r in rb]),
                          welch(ma, mb) if ma and mb else None)


def comparison_json(c: Comparison) -> dict[str, Any]:
    o = c.overall()
    return {
        "a": c.a_label, "b": c.b_label, "verdict": c.verdict, "only_a": c.only_a, "only_b": c.only_b,
        "methods": {"a": dict(c.methods_a), "b": dict(c.methods_b), "mixed": c.mixed_methods}, "notes": c.notes,
        "overall": None if o is None else {"energy_change": o[0], "ci95": None if o[1] is None else [o[1], o[2]],
                                           "settings": o[3]},
        "matched": [{
            "workload": m.workload, "mode": m.mode, "setting": m.setting,
            "energy_a_j": m.a.energy.mean, "energy_b_j": m.b.energy.mean, "n_a": m.a.n, "n_b": m.b.n,
            "energy_change": m.energy_change[0],
            "energy_change_ci95": None if m.energy_change[1] is None else list(m.energy_change[1:]),
            "metric": c.metrics.get(f"{m.workload} · {m.mode}", ("—", None))[0],
            "metric_a": m.a.metric.mean if m.a.metric else None, "metric_b": m.b.metric.mean if m.b.metric else None,
            "metric_diff": m.metric.diff if m.metric else None,
            "metric_diff_ci95": None if m.metric is None or m.metric.low is None else [m.metric.low, m.metric.high],
        } for m in c.matched],
    }

