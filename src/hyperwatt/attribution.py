"""Parallel mode: the rules that split the GPU's energy during the foreground's window between the
foreground and its background, each with its uncertainty. Pure functions over numbers, shared by
the engine (which records them), verify (which flags a marginal outside physical limits), the
analysis and benchmarks/attribution.py. docs/measurement.md ("Attribution") defines each rule.
"""

from __future__ import annotations

from statistics import fmean
from collections.abc import Sequence
from typing import Literal

#: A marginal energy's interval lies above 0, straddles 0, or leaves the physical limits [0, device].
MarginalVerdict = Literal["above 0", "not distinguishable from 0", "outside physical limits"]


def alone_power(energy_j: float, uncertainty_j: float | None, duration_s: float) -> tuple[float, float | None]:
    """The background's mean power over its alone window, and the counter's bound on it."""
    return energy_j / duration_s, (None if uncertainty_j is None else uncertainty_j / duration_s)


def power_spread_w(samples: Sequence[tuple[float, float]], length_s: float) -> float | None:
    """How far the mean power over a stretch of `length_s` strays from the mean over all samples:
    the largest |mean over [t, t + length_s]| − mean| among the stretches that fit (t at each sample).

    `samples` are (time, power) readings of the background alone. Extrapolating its alone power to
    a foreground window of about `length_s` can be off by this much, if the window falls in the
    background's highest or lowest phase seen. None with fewer than 2 samples or no stretch fitting.
    """
    pts = sorted(samples)
    if len(pts) < 2 or length_s <= 0:
        return None
    overall = fmean(p for _, p in pts)
    t_end = pts[-1][0]
    worst: float | None = None
    j = 0
    total = 0.0
    for i, (t, _) in enumerate(pts):
        if t + length_s > t_end + 1e-9:
            break
        while j < len(pts) and pts[j][0] <= t + length_s + 1e-9:
            total += pts[j][1]
            j += 1
        mean = total / (j - i)
        worst = max(worst or 0.0, abs(mean - overall))
        total -= pts[i][1]
    return worst


def marginal(device_j: float, device_unc_j: float | None, duration_s: float, alone_w: float,
             alone_unc_w: float | None, spread_w: float | None,
             interference_pct: float = 0.0) -> tuple[float, float | None]:
    """The foreground's marginal energy: what the device drew beyond the background's power alone,
    `device − alone × window`, and its bound `δdevice + window × (δalone + spread + interference)`.

    `interference_pct` of the alone power allows for the background drawing differently while it
    shares the GPU: time slicing displaces its work, so a light foreground can *lower* the device's
    power (measured: docs/benchmarks.md, "Attribution"). Without it the bound assumes the background
    draws exactly what it drew alone."""
    value = device_j - alone_w * duration_s
    if device_unc_j is None or alone_unc_w is None or spread_w is None:
        return value, None
    interference_w = abs(alone_w) * interference_pct / 100
    return value, device_unc_j + duration_s * (alone_unc_w + spread_w + interference_w)


def marginal_verdict(value_j: float, uncertainty_j: float | None, device_j: float,
                     device_unc_j: float | None) -> MarginalVerdict | None:
    """Where the marginal's interval lies; None when it has no stated uncertainty."""
    if uncertainty_j is None:
        return None
    top = device_j + (device_unc_j or 0.0)
    if value_j + uncertainty_j < 0 or value_j - uncertainty_j > top:
        return "outside physical limits"
    if value_j - uncertainty_j <= 0:
        return "not distinguishable from 0"
    return "above 0"


def util_share_energy(device_j: float, share: float) -> float:
    """The device's energy times the foreground's share of per-process SM utilisation (an estimate
    with no known bound: the driver's samples are not a time share, see docs/parallel.md)."""
    return device_j * share
