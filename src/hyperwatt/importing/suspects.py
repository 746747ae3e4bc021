"""Values of the seed's that do not add up, flagged (never dropped): a ratio metric whose values mix
fractions with counts or percentages within one workload (MRT-OAST's `perf_accuracy`)."""

from __future__ import annotations

import re
from collections import defaultdict

from hyperwatt.importing.mapping import Mapped
from hyperwatt.records import Flag

#: Metrics that are fractions in [0, 1] or percentages, never both in one workload's results.
RATIO_METRIC = re.compile(r"(accuracy|precision|recall|^map$|^rank\d+$|^top\d+)", re.IGNORECASE)
CAUSE = "suspect value (a ratio metric mixing fractions and larger values; kept, flagged)"


def flag_suspects(rows: list[Mapped]) -> None:
    groups: dict[tuple[str, str], list[tuple[Mapped, float]]] = defaultdict(list)
    for m in rows:
        for name, value in m.record.metrics.items():
            if RATIO_METRIC.search(name):
                groups[(m.record.workload, name)].append((m, value))
    for (workload, name), values in groups.items():
        small = sum(0 <= v <= 1 for _, v in values)
        large = [(m, v) for m, v in values if v > 1]
        if not small or not large:
            continue
        for m, v in large:
            message = (f"metric {name}={v:g} > 1 while {small} of {len(values)} {workload} runs report it as a "
                       "fraction: a count or a percentage mixed in?")
            m.record.flags.append(Flag(code="seed_suspect_value", severity="warning", message=message))
            assert m.record.imported is not None
            m.record.imported.problems.append(message)
            if CAUSE not in m.causes:
                m.causes.append(CAUSE)
