"""Grouping experiments: workload × mode (× background) groups, settings (key_hash) and the default setting."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from hyperwatt.records import ExperimentRecord

#: Labels the plan expansion gives an unmutated setting.
_REFERENCE_LABELS = ("default", "fixed")


@dataclass(frozen=True, order=True)
class GroupKey:
    """Experiments comparable with each other: one workload, one mode, one background workload."""

    workload: str
    mode: str
    background: str | None = None

    @property
    def title(self) -> str:
        text = f"{self.workload} · {self.mode}"
        return text + (f" with background {self.background}" if self.background else "")

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.title.replace(" · ", "-")).strip("-").lower()


def group_key(record: ExperimentRecord) -> GroupKey:
    bg = record.background.workload if record.mode == "parallel" and record.background else None
    return GroupKey(record.workload, record.mode, bg)


def by_group(records: Iterable[ExperimentRecord]) -> dict[GroupKey, list[ExperimentRecord]]:
    out: dict[GroupKey, list[ExperimentRecord]] = {}
    for r in records:
        out.setdefault(group_key(r), []).append(r)
    return dict(sorted(out.items()))


def by_setting(records: Iterable[ExperimentRecord]) -> dict[str, list[ExperimentRecord]]:
    """Runs per setting (key_hash), in order of first appearance."""
    out: dict[str, list[ExperimentRecord]] = {}
    for r in records:
        out.setdefault(r.key_hash, []).append(r)
    return out


def reference_key(records: Sequence[ExperimentRecord]) -> str | None:
    """The group's default setting: the one unmutated setting (label "default" preferred), if measured."""
    plain = {r.key_hash: r.label for r in records if not r.mutated}
    if len(plain) == 1:
        return next(iter(plain))
    for wanted in _REFERENCE_LABELS:
        keys = [k for k, label in plain.items() if label == wanted]
        if len(keys) == 1:
            return keys[0]
    return None


def varying_hyperparameters(records: Sequence[ExperimentRecord]) -> list[str]:
    """Hyperparameters whose value differs between runs, the mutated ones first."""
    values: dict[str, set[str]] = {}
    for r in records:
        for k, v in r.hyperparameters.items():
            values.setdefault(k, set()).add(repr(v))
    missing = {k for k in values if any(k not in r.hyperparameters for r in records)}
    varying = {k for k, vs in values.items() if len(vs) > 1 or k in missing}
    mutated = Counter(name for r in records for name in r.mutated)
    return sorted(varying, key=lambda k: (-mutated[k], k))


def numeric(value: Any) -> float | None:
    """A hyperparameter value as a number (booleans as 0/1); None for strings and non-finite values."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def setting_name(hyperparameters: dict[str, Any], varying: Sequence[str], is_reference: bool,
                 fallback: str) -> str:
    """"default", or the values that vary within the group, e.g. `learning_rate=0.02, batch_size=64`."""
    if is_reference and fallback == "default":
        return "default"
    parts = [f"{k}={format_value(hyperparameters[k])}" for k in varying if k in hyperparameters]
    return ", ".join(parts) or fallback
