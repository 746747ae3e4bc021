"""Interval estimates the findings share: Welch's difference of means and least squares with standard errors."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st


@dataclass(frozen=True)
class Difference:
    """mean(b) − mean(a) with its 95% Welch interval and two-sided p (None when either side has n < 2)."""

    diff: float
    low: float | None
    high: float | None
    p: float | None


def welch(a: Sequence[float], b: Sequence[float]) -> Difference:
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    d = mb - ma
    if len(a) < 2 or len(b) < 2:
        return Difference(d, None, None, None)
    va, vb = _var(a) / len(a), _var(b) / len(b)
    se2 = va + vb
    if se2 <= 0:
        return Difference(d, d, d, None if d == 0 else 0.0)
    df = se2 ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    se = math.sqrt(se2)
    half = float(_st.t.ppf(0.975, df)) * se
    return Difference(d, d - half, d + half, float(2 * _st.t.sf(abs(d) / se, df)))


def _var(v: Sequence[float]) -> float:
    m = sum(v) / len(v)
    return sum((x - m) ** 2 for x in v) / (len(v) - 1)


@dataclass(frozen=True)
class Fit:
    """Ordinary least squares: coefficients, their standard errors and the residual degrees of freedom."""

    coef: np.ndarray
    se: np.ndarray
    df: int

    def interval(self, i: int) -> tuple[float, float]:
        half = float(_st.t.ppf(0.975, self.df)) * float(self.se[i])
        return float(self.coef[i]) - half, float(self.coef[i]) + half


def ols(x: np.ndarray, y: np.ndarray) -> Fit | None:
    """y ~ x (x holds the intercept column); None when x is rank-deficient or leaves no degree of freedom."""
    n, k = x.shape
    if n <= k or np.linalg.matrix_rank(x) < k:
        return None
    xtx_inv = np.linalg.inv(x.T @ x)
    coef = xtx_inv @ x.T @ y
    resid = y - x @ coef
    sigma2 = float(resid @ resid) / (n - k)
    return Fit(coef, np.sqrt(np.clip(np.diag(xtx_inv) * sigma2, 0.0, None)), n - k)


def difference_test(b1: float, se1: float, df1: int, b2: float, se2: float, df2: int) -> float | None:
    """Two-sided p of b2 − b1 for independent estimates (Welch–Satterthwaite degrees of freedom)."""
    v = se1 ** 2 + se2 ** 2
    if v <= 0:
        return None
    df = v ** 2 / (se1 ** 4 / df1 + se2 ** 4 / df2) if se1 > 0 or se2 > 0 else min(df1, df2)
    return float(2 * _st.t.sf(abs(b2 - b1) / math.sqrt(v), df))
