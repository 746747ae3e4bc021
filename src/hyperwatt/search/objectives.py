"""What a search optimises and what it must respect, read from experiment records."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from hyperwatt.config.plan import CONSTRAINT, ENERGY_QUANTITIES, OBJECTIVE
from hyperwatt.records import ExperimentRecord


@dataclass(frozen=True)
class Objective:
    name: str
    direction: Literal["minimize", "maximize"]

    @property
    def is_energy(self) -> bool:
        return self.name in ENERGY_QUANTITIES


@dataclass(frozen=True)
class Constraint:
    """`name op bound`, the bound `factor x` the default setting's value when `relative`."""

    name: str
    op: Literal[">=", "<="]
    factor: float
    relative: bool

    def bound(self, default_value: float | None) -> float | None:
        if not self.relative:
            return self.factor
        return None if default_value is None or not math.isfinite(default_value) else self.factor * default_value

    def violation(self, value: float | None, default_value: float | None) -> float:
        """Optuna's convention: <= 0 feasible, > 0 by how much it is broken (inf when unknown)."""
        bound = self.bound(default_value)
        if value is None or bound is None or not math.isfinite(value):
            return math.inf
        return bound - value if self.op == ">=" else value - bound

    def __str__(self) -> str:
        rhs = f"{self.factor:g} * default" if self.relative else f"{self.factor:g}"
        return f"{self.name} {self.op} {rhs}"


def parse_objectives(texts: list[str]) -> list[Objective]:
    out = []
    for text in texts:
        m = OBJECTIVE.match(text)
        assert m is not None, text  # validated by SearchSpec
        out.append(Objective(m.group(1), "minimize" if m.group(2) == "min" else "maximize"))
    return out


def parse_constraints(texts: list[str]) -> list[Constraint]:
    out = []
    for text in texts:
        m = CONSTRAINT.match(text)
        assert m is not None, text  # validated by SearchSpec
        name, op, factor, rhs = m.groups()
        if rhs == "default":
            out.append(Constraint(name, op, float(factor) if factor else 1.0, True))  # type: ignore[arg-type]
        else:
            out.append(Constraint(name, op, float(rhs) * (float(factor) if factor else 1.0), False))  # type: ignore[arg-type]
    return out


def value_of(record: ExperimentRecord, name: str) -> float | None:
    """An energy quantity (None when not measured, or partial) or a metric of the record."""
    if name in ENERGY_QUANTITIES:
        if name == "duration_s":
            return record.energy.duration_s if record.energy.available else record.duration_s
        if not record.energy.available or record.energy.partial:
            return None
        value = getattr(record.energy, name)
        return None if value is None else float(value)
    value = record.metrics.get(name)
    return None if value is None else float(value)
