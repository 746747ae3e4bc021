"""A workload's run-to-run spread, measured from its repeated settings, for settings run once.

A setting run once has no spread of its own, and its measurement bound says nothing of how much a
second run would differ (start-up, scheduling, clocks: several times the bound on short runs). The
group's settings that were repeated show it: their relative standard deviations, pooled
(weighted by degrees of freedom), give the CV of one run, and a single run's 95 % interval is
value × (1 ± t(0.975, df) × CV). Labelled as borrowed wherever it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as _st

from hyperwatt.analysis.quantities import Quantity
from hyperwatt.analysis.stats import SettingStats


@dataclass(frozen=True)
class RunSpread:
    """The pooled relative SD of one run of `quantity` in a group, and what it was pooled from."""

    quantity: str
    cv: float
    df: int  # sum over the repeated settings of (runs - 1)
    settings: int
    runs: int

    def interval(self, value: float) -> tuple[float, float]:
        half = float(_st.t.ppf(0.975, self.df)) * self.cv * abs(value)
        return value - half, value + half

    def label(self) -> str:
        return (f"from this workload's run-to-run spread: CV {100 * self.cv:.1f} % pooled over "
                f"{self.settings} repeated setting(s), {self.runs} runs")


def run_spread(settings: Sequence[SettingStats], q: Quantity) -> RunSpread | None:
    """The pooled CV of `q` over the settings with at least two runs; None when none has."""
    num, df, used, runs = 0.0, 0, 0, 0
    for s in settings:
        summary = s.get(q)
        if summary is None or summary.n < 2 or summary.std is None or not summary.mean > 0:
            continue
        num += (summary.n - 1) * (summary.std / summary.mean) ** 2
        df += summary.n - 1
        used += 1
        runs += summary.n
    if df == 0:
        return None
    return RunSpread(quantity=q.key, cv=math.sqrt(num / df), df=df, settings=used, runs=runs)
