"""Slices of a measured window: the energy between any two of its cut instants, so that slices add up.

With a counter, the cumulative energy is located at every cut with the same edge correction as
the window's own edges (sensors/window.py): the window start and end exactly as `window_energy`
does, an inner cut as a start edge (the part of its counter interval before the cut at the level
read just before it). A slice is the difference of its two ends, so the slices of a window add up
to the window's energy exactly, and each slice's bound is its two edges' bounds plus the counter's
resolution. Without a counter, slices are trapezoid integrals, additive as well. When the window
itself is partial, each slice is measured on its own and marked partial.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hyperwatt.sensors.records import Sample, SensorInfo
from hyperwatt.sensors.window import (
    COUNTER_RESET,
    POWER_REL_ERR,
    EndLevel,
    _Edge,
    _edge,
    _power_curve,
    _Read,
    _trapezoid_estimate,
    detect_update_period,
    grid_anchors,
    window_energy,
)


@dataclass(frozen=True)
class SliceEnergy:
    """One slice's energy (None when unknown, with `reason`) and its worst-case bound."""

    energy_j: float | None
    uncertainty_j: float | None
    partial: bool = False
    reason: str | None = None


class WindowSlicer:
    """Energy of one sensor between instants of the window [t0, t1] (pass samples with context).

    `whole` is the window's own estimate (`window_energy` with the same arguments). `energy(a, b)`
    for t0 <= a <= b <= t1; `mode` says how slices are measured: "counter" and "trapezoid" slices
    add up to `whole` exactly, "independent" ones (a partial window) do not, "none" has no energy.
    """

    def __init__(self, samples: Sequence[Sample], info: SensorInfo, t0: float, t1: float, *,
                 period_s: float | None = None, nominal_interval_s: float | None = None,
                 power_rel_err: float = POWER_REL_ERR, end_level: EndLevel = "after") -> None:
        self.info, self.t0, self.t1 = info, t0, t1
        self._samples = sorted(samples, key=lambda s: s.t_mono)
        self._kw = {"period_s": period_s, "nominal_interval_s": nominal_interval_s, "power_rel_err": power_rel_err}
        self._end_level: EndLevel = end_level
        self.whole = window_energy(self._samples, info, t0, t1, end_level=end_level, **self._kw)  # type: ignore[arg-type]
        good = [s for s in self._samples if s.error is None]
        times = np.array([s.t_mono for s in good], dtype=float)
        if nominal_interval_s is None:
            nominal_interval_s = float(np.median(np.diff(times))) if times.size >= 2 else 1.0
        self._gap_s = max(2.5 * nominal_interval_s, 1e-3)
        period = period_s or detect_update_period(self._samples, "energy_j") or info.update_period_s
        self._period = period
        self._lag_s = max(period or 0.0, nominal_interval_s)
        self._rel = power_rel_err
        reads = [_Read(s.t_mono, s.energy_j, s.read_latency_s or 0.0) for s in good if s.energy_j is not None]
        self._curve = _power_curve(good, reads)
        self._errors = [s for s in self._samples if s.error is not None and t0 <= s.t_mono <= t1]
        self._edges: dict[float, _Edge | None] = {}
        self._anchor_list: list = []
        self.mode = self._choose_mode(reads)

    def _choose_mode(self, reads: list[_Read]) -> str:
        whole = self.whole
        if whole.energy_j is None:
            return "none"
        if whole.partial:
            return "independent"
        if reads and self._curve is not None:
            self._anchor_list = grid_anchors(reads, self._period, bool(self._kw["period_s"]),
                                              self._curve)
            e0, e1 = self._edge(self.t0), self._edge(self.t1)
            resets = any(s.error and s.error.startswith(COUNTER_RESET) for s in self._errors)
            if e0 is not None and e1 is not None and not resets:
                return "counter"
        return "trapezoid"

    def _edge(self, t: float) -> _Edge | None:
        if t not in self._edges:
            assert self._curve is not None
            if t == self.t1:
                side = "end" if self._end_level == "after" else "end_inside"
            else:
                side = "start"  # the window start, or an inner cut: the part before it at the level before it
            edge = _edge(self._anchor_list, self._curve, t, side, self._period, self._gap_s, self._lag_s, self._rel)
            if t not in (self.t0, self.t1):  # an inner cut: the better of the two ways to place it
                shared = self._shared_edge(t)
                if shared is not None and (edge is None or shared.bound_j < edge.bound_j):
                    edge = shared
            self._edges[t] = edge
        return self._edges[t]

    def _shared_edge(self, t: float) -> _Edge | None:
        """An inner cut from the counter interval (a, b] around it, its exact energy shared out in
        proportion to the power readings: E(t) = E(a) + ΔE · ∫[a,t] P / ∫[a,b] P. The readings'
        scale error cancels; left are their lag at the cut, their shape between reads, and where
        the two steps lie within their brackets."""
        anchors, curve = self._anchor_list, self._curve
        assert curve is not None
        i = bisect.bisect_right([x.mid for x in anchors], t)
        if not 0 < i < len(anchors):
            return None
        a, b = anchors[i - 1], anchors[i]
        delta = b.energy_j - a.energy_j
        if delta < 0 or not curve.covers(a.mid, b.mid, self._gap_s):
            return None
        whole = curve.integral(a.mid, b.mid)
        if whole <= 0:
            return None
        lo, hi = curve.extremes(t - self._lag_s, t + self._lag_s)
        k, m = np.searchsorted(curve.t, [a.mid, b.mid])
        tt = np.concatenate(([a.mid], curve.t[k:m], [b.mid]))
        pp = np.array([curve.value(x) for x in tt])
        shape = float((np.diff(tt) * np.abs(np.diff(pp)) / 2).sum())  # the curve stays between its reads
        peak = curve.extremes(a.lo, b.hi)[1]
        bound = delta / whole * (self._lag_s * (hi - lo) + shape) + (a.half + b.half) * peak
        return _Edge(a.energy_j + delta * curve.integral(a.mid, t) / whole, min(bound, delta), t)

    def energy(self, a: float, b: float) -> SliceEnergy:
        """The energy from `a` to `b` (both within the window; cuts shared by slices give sums that hold)."""
        if not self.t0 <= a <= b <= self.t1:
            raise ValueError(f"slice [{a}, {b}] is not inside the window [{self.t0}, {self.t1}]")
        rel_model = self.info.relative_uncertainty
        if self.mode == "none":
            return SliceEnergy(None, None, reason=self.whole.reason)
        if self.mode == "counter":
            ea, eb = self._edge(a), self._edge(b)
            if ea is None or eb is None:
                at = a if ea is None else b
                return SliceEnergy(None, None, partial=True,
                                   reason=f"no usable counter reading at the cut +{at - self.t0:.2f} s")
            energy = eb.energy_j - ea.energy_j
            bound = ea.bound_j + eb.bound_j + 2 * (self.info.resolution_j or 0.0)
            return SliceEnergy(energy, bound + rel_model * abs(energy))
        if self.mode == "trapezoid":
            assert self._curve is not None
            if b == a:
                return SliceEnergy(0.0, 0.0)
            errors = [s for s in self._errors if a <= s.t_mono <= b]
            est = _trapezoid_estimate(self._curve, self.info, a, b, self._gap_s, self._lag_s, self._rel, errors)
            if est is None:
                return SliceEnergy(None, None, partial=True, reason="no power reading in the slice")
            return SliceEnergy(est.energy_j, est.bound_j + rel_model * abs(est.energy_j), est.partial, est.reason)
        end_level: EndLevel = self._end_level if b == self.t1 else "after"
        alone = window_energy(self._samples, self.info, a, b, end_level=end_level, **self._kw)  # type: ignore[arg-type]
        reason = "the window's energy is partial, so is this slice" + (f"; {alone.reason}" if alone.reason else "")
        return SliceEnergy(alone.energy_j, alone.uncertainty_j, True, reason)

