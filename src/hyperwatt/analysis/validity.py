"""Which experiments count for the trade-off numbers, and why the others do not."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from hyperwatt.records import ExperimentRecord


@dataclass(frozen=True)
class Exclusion:
    """An experiment left out of statistics (`scope` "all") or only out of energy statistics ("energy")."""

    experiment_id: str
    session_id: str
    workload: str
    label: str
    status: str
    code: str  # short category, e.g. "failed", "background_ineffective", "energy_partial"
    reason: str  # the record's own words
    scope: str = "all"


@dataclass
class Validity:
    """The split of a set of experiments into those that count and those excluded, with reasons."""

    total: int = 0
    valid: list[ExperimentRecord] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    energy_excluded: list[Exclusion] = field(default_factory=list)

    def reasons(self) -> Counter[str]:
        """Exclusion codes with their counts, most frequent first."""
        return Counter(x.code for x in self.excluded)


def split_valid(records: Iterable[ExperimentRecord]) -> Validity:
    """Only succeeded experiments without error flags count; partial energy counts for metrics only."""
    out = Validity()
    for r in records:
        out.total += 1
        if r.valid:
            out.valid.append(r)
            if r.energy.partial:
                out.energy_excluded.append(_exclusion(r, "energy_partial", _partial_reason(r), "energy"))
            continue
        out.excluded.append(_excluded(r))
    return out


def _excluded(r: ExperimentRecord) -> Exclusion:
    errors = [f for f in r.flags if f.severity == "error"]
    if r.status != "succeeded":
        code: str = r.status
        reason = r.status_reason or "; ".join(f.message for f in errors) or f"status {r.status}"
        if r.status == "invalid" and errors:
            code = errors[0].code
    else:
        code = errors[0].code
        reason = "; ".join(f"{f.code}: {f.message}" for f in errors)
    return _exclusion(r, code, reason)


def _partial_reason(r: ExperimentRecord) -> str:
    parts = [f"{s.sensor}: {s.reason}" for s in r.energy.sensors if s.partial and s.reason]
    return "energy covers only part of the window" + (f" ({'; '.join(parts)})" if parts else "")


def _exclusion(r: ExperimentRecord, code: str, reason: str, scope: str = "all") -> Exclusion:
    return Exclusion(experiment_id=r.experiment_id, session_id=r.session_id, workload=r.workload, label=r.label,
                     status=r.status, code=code, reason=reason, scope=scope)
