"""Question 1: which hyperparameters correlate with energy, and in which direction.

Per group and varying hyperparameter: Spearman's ρ between its value and the rows' energy, over
all rows and over the *isolated* rows (every other hyperparameter at its reference value, how
one-at-a-time mutation is meant to be read); Benjamini–Hochberg q over every test of the report.
The unit is the row (one training), as the published study counted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from scipy import stats as _st

from hyperwatt.analysis.rows import RowGroup
from hyperwatt.analysis.settings import numeric

Scope = Literal["all", "isolated"]
ALPHA = 0.05
MIN_ROWS = 3
#: |ρ| between two hyperparameters over the rows at which their effects cannot be told apart.
COLLINEAR_RHO = 0.5
_SEED = re.compile(r"(^|_)(seed|random_state|rng|random_seed)($|_)", re.IGNORECASE)


@dataclass(frozen=True)
class CorrelationTest:
    """One hyperparameter against energy over one scope of rows; `rho`/`p` None when not tested (`reason`)."""

    hyperparameter: str
    scope: Scope
    n: int
    distinct_values: int
    rho: float | None
    p: float | None
    reason: str | None = None
    q: float | None = None

    @property
    def tested(self) -> bool:
        return self.rho is not None

    @property
    def sign(self) -> int:
        return 0 if self.rho is None or self.rho == 0 else (1 if self.rho > 0 else -1)

    @property
    def significant(self) -> bool:
        return self.q is not None and self.q < ALPHA


@dataclass(frozen=True)
class HyperparameterFinding:
    """Both scopes' tests of one hyperparameter, its verdict and any design problem."""

    hyperparameter: str
    all_rows: CorrelationTest
    isolated: CorrelationTest
    verdict: str = ""
    direction: Literal["increases", "decreases", "none", "untested"] = "untested"
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tests(self) -> tuple[CorrelationTest, CorrelationTest]:
        return self.all_rows, self.isolated


def spearman(xs: Sequence[float], ys: Sequence[float], hyperparameter: str, scope: Scope) -> CorrelationTest:
    """ρ and its two-sided p (scipy's t approximation); not tested with < 3 rows or a constant side."""
    n, distinct = len(xs), len(set(xs))

    def untested(reason: str) -> CorrelationTest:
        return CorrelationTest(hyperparameter, scope, n, distinct, None, None, reason)

    if n < MIN_ROWS:
        return untested(f"{n} row(s): at least {MIN_ROWS} needed")
    if distinct < 2:
        return untested("constant in these rows")
    if len(set(ys)) < 2:
        return untested("energy constant in these rows")
    res = _st.spearmanr(xs, ys)
    rho, p = float(res.statistic), float(res.pvalue)
    if not math.isfinite(rho):
        return untested("ρ undefined")
    return CorrelationTest(hyperparameter, scope, n, distinct, rho, p if math.isfinite(p) else 1.0)


def group_tests(group: RowGroup) -> list[HyperparameterFinding]:
    """Tests of every varying hyperparameter of a group (q and verdicts are set by `adjust`)."""
    out = []
    for hp in group.varying:
        others = [k for k in group.varying if k != hp]
        pairs = [(x, r.energy_j) for r in group.rows if (x := numeric(r.value(hp))) is not None]
        iso = [(x, r.energy_j) for r in group.rows
               if (x := numeric(r.value(hp))) is not None and group.at_reference(r, others)]
        if not pairs:
            reason = "not numeric" if any(r.value(hp) is not None for r in group.rows) else "no value"
            empty = CorrelationTest(hp, "all", 0, 0, None, None, reason)
            out.append(HyperparameterFinding(hp, empty, replace(empty, scope="isolated")))
            continue
        flags = _collinear(group, hp, others)
        out.append(HyperparameterFinding(
            hp, spearman([x for x, _ in pairs], [y for _, y in pairs], hp, "all"),
            spearman([x for x, _ in iso], [y for _, y in iso], hp, "isolated"), flags=tuple(flags)))
    return out


def _collinear(group: RowGroup, hp: str, others: list[str]) -> list[str]:
    """Other hyperparameters that moved with this one over the rows (a confounded design)."""
    flags = []
    for other in others:
        xy = [(a, b) for r in group.rows if (a := numeric(r.value(hp))) is not None
              and (b := numeric(r.value(other))) is not None]
        if len(xy) < MIN_ROWS or len({a for a, _ in xy}) < 2 or len({b for _, b in xy}) < 2:
            continue
        res = _st.spearmanr([a for a, _ in xy], [b for _, b in xy])
        rho, p = float(res.statistic), float(res.pvalue)
        if math.isfinite(rho) and abs(rho) >= COLLINEAR_RHO and p < ALPHA:
            flags.append(f"confounded with {other} over all rows (ρ = {rho:+.2f}): their effects cannot be "
                         "told apart there; read the isolated test")
    return flags


def benjamini_hochberg(ps: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (q), in the input's order."""
    if not ps:
        return []
    arr = np.clip(np.asarray(ps, dtype=float), 0.0, 1.0)
    return [float(q) for q in _st.false_discovery_control(arr, method="bh")]


def adjust(findings: list[list[HyperparameterFinding]]) -> list[list[HyperparameterFinding]]:
    """q over every test of the report (both scopes, all groups), then verdicts and design flags."""
    tests = [t for group in findings for f in group for t in f.tests if t.tested]
    qs = iter(benjamini_hochberg([t.p for t in tests if t.p is not None]))
    adjusted = {id(t): next(qs) for t in tests}
    out = []
    for group in findings:
        done = []
        for f in group:
            a = replace(f.all_rows, q=adjusted.get(id(f.all_rows)))
            i = replace(f.isolated, q=adjusted.get(id(f.isolated)))
            done.append(_verdict(replace(f, all_rows=a, isolated=i)))
        out.append(done)
    return out


def _verdict(f: HyperparameterFinding) -> HyperparameterFinding:
    a, i = f.all_rows, f.isolated
    flags = list(f.flags)
    lead = a if a.significant else i if i.significant else a if a.tested else i
    if not lead.tested:
        return replace(f, verdict=f"not tested: {a.reason or i.reason}", direction="untested", flags=tuple(flags))
    if a.significant and i.significant and a.sign != i.sign:
        flags.append("all rows and isolated rows disagree in direction: another change moved with this one")
    if _SEED.search(f.hyperparameter) and (a.significant or i.significant):
        flags.append("the random seed comes out significant: something else varied with it (code, data order, "
                     "another hyperparameter, the machine); check the design before reading other effects")
    if lead.significant:
        direction: Literal["increases", "decreases", "none", "untested"] = \
            "increases" if lead.sign > 0 else "decreases"
        text = f"{'higher' if lead.sign > 0 else 'lower'} {f.hyperparameter}, {'more' if lead.sign > 0 else 'less'} " \
               f"energy (ρ = {_rho(lead.rho)}, q = {_q(lead.q)}, n = {lead.n}, {lead.scope} rows)"
    else:
        direction = "none"
        best = min((t for t in (a, i) if t.tested), key=lambda t: t.p if t.p is not None else 1.0)
        text = f"no significant correlation (best: ρ = {_rho(best.rho)}, p = {_q(best.p)}, q = {_q(best.q)}, " \
               f"{best.scope} rows)"
    if flags:
        text += "; confounded design, read with care"
    return replace(f, verdict=text, direction=direction, flags=tuple(flags))


def _rho(x: float | None) -> str:
    return "—" if x is None else f"{x:+.2f}".replace("-", "−")


def _q(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.2g}" if x >= 1e-4 else "<1e-4"
