"""The rows the findings rest on: valid trainings with energy, hyperparameters with defaults filled in.

Definitions (docs/findings.md): a row is a valid (succeeded, no error flag) training whose group's
energy was measured; the target is the group's energy quantity from `quantities.primary_energy`
(foreground GPU energy, J); a hyperparameter missing from a record takes the workload's default;
a row's energy method is the method of the sensors behind that quantity.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hyperwatt.analysis.quantities import Quantity, measure, primary_energy
from hyperwatt.analysis.settings import numeric, reference_key
from hyperwatt.analysis.validity import split_valid
from hyperwatt.records import ExperimentRecord

#: workload -> its declared defaults (empty when the workload is unknown).
DefaultsLookup = Callable[[str], dict[str, Any]]
#: workload -> its declared metrics, most important first (empty when unknown).
MetricOrder = Callable[[str], list[str]]
#: Which sensors' methods an energy quantity rests on.
_DOMAINS = {"cpu_energy_j": ("cpu",), "total_energy_j": None}
UNKNOWN_METHOD = "unknown"


def registry_defaults(registry: object | None = None) -> DefaultsLookup:
    """Defaults from a workload registry (the built-ins when None); {} for a workload it does not know."""
    from hyperwatt.config import Registry
    from hyperwatt.errors import HyperwattError

    reg = registry if registry is not None else Registry.builtin()
    cache: dict[str, dict[str, Any]] = {}

    def lookup(workload: str) -> dict[str, Any]:
        if workload not in cache:
            try:
                cache[workload] = dict(reg.get(workload).defaults())  # type: ignore[attr-defined]
            except HyperwattError:
                cache[workload] = {}
        return cache[workload]

    return lookup


def registry_metric_order(registry: object | None = None) -> MetricOrder:
    """A workload's metrics in declared order: `metrics.required`, then `metrics.goals` (the built-ins when None)."""
    from hyperwatt.config import Registry
    from hyperwatt.errors import HyperwattError

    reg = registry if registry is not None else Registry.builtin()

    def lookup(workload: str) -> list[str]:
        try:
            spec = reg.get(workload).metrics  # type: ignore[attr-defined]
        except HyperwattError:
            return []
        return list(dict.fromkeys([*spec.required, *spec.goals]))

    return lookup


def energy_method(record: ExperimentRecord, q: Quantity) -> str:
    """The energy method(s) of the sensors a quantity of this record rests on, e.g. `nvml-energy-counter`."""
    domains = _DOMAINS.get(q.key, ("gpu",))
    methods = sorted({s.method for s in record.energy.sensors
                      if s.energy_j is not None and (domains is None or s.domain in domains)})
    if not methods and domains == ("gpu",) and record.energy.gpu_method:
        methods = [record.energy.gpu_method]
    return "+".join(methods) or UNKNOWN_METHOD


def same_value(a: Any, b: Any) -> bool:
    """Equal hyperparameter values; numbers within a relative 1e-6 (the seed wrote floats as %.6f)."""
    x, y = numeric(a), numeric(b)
    if x is not None and y is not None and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-12)
    return a == b


@dataclass(frozen=True)
class Row:
    """One training as the findings read it."""

    record: ExperimentRecord
    energy_j: float
    method: str
    #: every hyperparameter of the group, missing ones filled with the workload's default
    hyperparameters: dict[str, Any]
    #: names whose value was filled in (absent from the record)
    defaulted: frozenset[str]

    @property
    def id(self) -> str:
        return self.record.experiment_id

    def value(self, name: str) -> Any:
        return self.hyperparameters.get(name)

    def setting(self, names: Sequence[str]) -> tuple[str, ...]:
        """A hashable key of this row's values of `names` (numbers rounded as `same_value` compares)."""
        out = []
        for k in names:
            v = self.hyperparameters.get(k)
            x = numeric(v)
            out.append(f"{x:.6g}" if x is not None and not isinstance(v, bool) else repr(v))
        return tuple(out)


@dataclass(frozen=True, order=True)
class FindingKey:
    """A findings group: one workload and mode (and one energy method when the report is split by method)."""

    workload: str
    mode: str
    method: str | None = None

    @property
    def title(self) -> str:
        return f"{self.workload} · {self.mode}" + (f" · {self.method}" if self.method else "")


@dataclass
class RowGroup:
    """The rows of one findings group, with what the findings need to read them."""

    key: FindingKey
    energy: Quantity
    rows: list[Row]
    #: hyperparameters whose (filled) value differs between rows, sorted
    varying: list[str]
    #: each hyperparameter's reference value: the default setting's, else the workload's default
    reference: dict[str, Any]
    backgrounds: list[str] = field(default_factory=list)
    #: rows left out, by reason
    dropped: Counter[str] = field(default_factory=Counter)

    @property
    def methods(self) -> Counter[str]:
        return Counter(r.method for r in self.rows)

    def at_reference(self, row: Row, names: Iterable[str]) -> bool:
        return all(k in self.reference and same_value(row.value(k), self.reference[k]) for k in names)

    def is_baseline(self, row: Row) -> bool:
        """At the reference value of every hyperparameter that has one (and of every varying one)."""
        return self.at_reference(row, set(self.reference) | set(self.varying))

    def differs(self, row: Row) -> list[str]:
        """The hyperparameters where a row is not at its reference value, sorted."""
        names = sorted(set(self.reference) | set(self.varying))
        return [k for k in names if not self.at_reference(row, [k])]

    def numeric_varying(self) -> list[str]:
        """Varying hyperparameters with a number in every row (booleans count as 0/1)."""
        return [k for k in self.varying if all(numeric(r.value(k)) is not None for r in self.rows)]


def finding_groups(records: Sequence[ExperimentRecord], defaults: DefaultsLookup,
                   split_methods: bool = False) -> list[RowGroup]:
    """Valid records grouped by workload and mode (and method when split), each with its rows."""
    by_key: dict[tuple[str, str], list[ExperimentRecord]] = {}
    for r in split_valid(records).valid:
        by_key.setdefault((r.workload, r.mode), []).append(r)
    out: list[RowGroup] = []
    for (workload, mode), runs in sorted(by_key.items()):
        energy = primary_energy(mode, runs)
        if energy is None:
            continue
        groups = _build(FindingKey(workload, mode), energy, runs, defaults(workload))
        if split_methods and len(groups.methods) > 1:
            for method in sorted(groups.methods):
                part = [row.record for row in groups.rows if row.method == method]
                out.append(_build(FindingKey(workload, mode, method), energy, part, defaults(workload)))
        else:
            out.append(groups)
    return out


def _build(key: FindingKey, energy: Quantity, runs: list[ExperimentRecord], declared: dict[str, Any]) -> RowGroup:
    dropped: Counter[str] = Counter()
    measured: list[tuple[ExperimentRecord, float]] = []
    for r in runs:
        value = measure(r, energy)[0]
        if value is None:
            dropped["energy not measured (or partial)"] += 1
        else:
            measured.append((r, value))
    names = sorted({k for r, _ in measured for k in r.hyperparameters})
    plain = _plain_values([r for r, _ in measured])
    fill = {k: declared[k] if k in declared else plain.get(k) for k in names}
    rows = []
    for r, value in measured:
        hps = dict(r.hyperparameters)
        filled = frozenset(k for k in names if k not in hps and fill.get(k) is not None)
        hps.update({k: fill[k] for k in filled})
        rows.append(Row(r, value, energy_method(r, energy), hps, filled))
    varying = [k for k in names if _varies([row.value(k) for row in rows])]
    reference = _reference(rows, names, fill)
    backgrounds = sorted({r.background.workload for r, _ in measured if r.background is not None})
    return RowGroup(key, energy, rows, varying, reference, backgrounds, dropped)


def _plain_values(records: list[ExperimentRecord]) -> dict[str, Any]:
    """Each hyperparameter's most common value among unmutated runs, those labelled "default" only where
    there are some (the default where none is declared)."""
    plain = [r for r in records if not r.mutated]
    labelled = [r for r in plain if r.label == "default"]
    counts: dict[str, Counter[str]] = {}
    values: dict[tuple[str, str], Any] = {}
    for r in labelled or plain:
        for k, v in r.hyperparameters.items():
            counts.setdefault(k, Counter())[repr(v)] += 1
            values[(k, repr(v))] = v
    return {k: values[(k, c.most_common(1)[0][0])] for k, c in counts.items()}


def _varies(values: list[Any]) -> bool:
    if any(v is None for v in values):
        return len({repr(v) for v in values}) > 1
    first = values[0] if values else None
    return any(not same_value(v, first) for v in values[1:])


def _reference(rows: list[Row], names: list[str], fill: dict[str, Any]) -> dict[str, Any]:
    """The default setting's values where the group measured one (see settings.reference_key), else the defaults."""
    ref_hash = reference_key([row.record for row in rows])
    ref_row = next((row for row in rows if row.record.key_hash == ref_hash), None) if ref_hash else None
    if ref_row is not None:
        return {k: ref_row.value(k) for k in names if ref_row.value(k) is not None}
    return {k: v for k, v in fill.items() if v is not None}
