"""Window energy: one sensor's energy between two monotonic instants, with an error bound.

With a cumulative counter, the energy is the counter difference between *anchors* (counter steps
whose instants are bracketed by the reads around them) next to each edge, corrected for the part
of the edge's counter interval that lies outside the window (at the power just outside it).
Without a counter, power is integrated (trapezoid). docs/measurement.md derives every term of
the bound.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from statistics import median
from typing import Literal, Sequence

import numpy as np

from hyperwatt.sensors.records import EnergyEstimate, Sample, SensorInfo

POWER_REL_ERR = 0.05  # instant power vs the energy counter's scale (NVML documents +/-5 %)
COUNTER_RESET = "energy counter reset"  # error prefix a sensor uses when its counter went backwards
EDGE_SEARCH_S = 2.0  # anchors farther than this from an edge are not considered
_REFERENCE_FRACTION = 0.125  # an anchor located to within this x period is a reference for the step grid
_DEFAULT_DEVIATION = 0.05  # steps' assumed deviation from the grid (x period) when no pair of references measures it
_GRID_MAX_K = 6  # grid refinement reaches at most this many periods from a reference anchor
EndLevel = Literal["after", "inside"]


@dataclass(frozen=True)
class _Read:
    t: float
    energy_j: float
    latency_s: float


@dataclass(frozen=True)
class _Anchor:
    """A counter step that happened in (lo, hi]; `energy_j` is the counter value just after it."""

    lo: float
    hi: float
    energy_j: float

    @property
    def mid(self) -> float:
        return 0.5 * (self.lo + self.hi)

    @property
    def half(self) -> float:
        return 0.5 * (self.hi - self.lo)


@dataclass(frozen=True)
class _Edge:
    energy_j: float  # cumulative energy at the edge instant
    bound_j: float
    t: float  # the instant the value refers to (the edge, or where coverage stops)


class _PowerCurve:
    """Piecewise-linear power through the samples, constant beyond the ends."""

    def __init__(self, t: np.ndarray, p: np.ndarray) -> None:
        self.t, self.p = t, p
        self._cum = np.concatenate(([0.0], np.cumsum(np.diff(t) * (p[1:] + p[:-1]) / 2)))

    def value(self, x: float) -> float:
        return float(np.interp(x, self.t, self.p))

    def _primitive(self, x: float) -> float:
        t, p = self.t, self.p
        if x <= t[0]:
            return float((x - t[0]) * p[0])
        if x >= t[-1]:
            return float(self._cum[-1] + (x - t[-1]) * p[-1])
        i = int(np.searchsorted(t, x, side="right")) - 1
        px = p[i] + (p[i + 1] - p[i]) * (x - t[i]) / (t[i + 1] - t[i])
        return float(self._cum[i] + (x - t[i]) * (p[i] + px) / 2)

    def integral(self, a: float, b: float) -> float:
        return self._primitive(b) - self._primitive(a)

    def extremes(self, a: float, b: float) -> tuple[float, float]:
        i, j = np.searchsorted(self.t, [a, b])
        vals = np.concatenate((self.p[i:j], [self.value(a), self.value(b)]))
        return float(vals.min()), float(vals.max())

    def covers(self, a: float, b: float, gap_s: float) -> bool:
        """Samples within `gap_s` of both ends and no gap longer than `gap_s` in between."""
        t = self.t
        i = int(np.searchsorted(t, a))
        j = int(np.searchsorted(t, b, side="right"))
        near_a = min(abs(t[k] - a) for k in (i - 1, i) if 0 <= k < len(t))
        near_b = min(abs(t[k] - b) for k in (j - 1, j) if 0 <= k < len(t))
        if near_a > gap_s or near_b > gap_s:
            return False
        inside = t[i:j]
        return inside.size < 2 or float(np.diff(inside).max()) <= gap_s


def detect_update_period(samples: Sequence[Sample], field: str = "energy_j") -> float | None:
    """The refresh period of a stepwise-updated reading (counter or power field), or None.

    Each run of equal values lasted between (last - first) and (next first - previous last) of its
    reads; the period is the median of those intervals' midpoints over runs of at least two reads.
    None when the reads are too sparse (most runs a single read) to see the steps.
    """
    vals = [(s.t_mono, getattr(s, field)) for s in samples if s.error is None and getattr(s, field) is not None]
    runs: list[tuple[float, float, int]] = []  # first t, last t, reads
    last_v = None
    for t, v in vals:
        if runs and v == last_v:
            first, _, n = runs[-1]
            runs[-1] = (first, t, n + 1)
        else:
            runs.append((t, t, 1))
        last_v = v
    mids = []
    for k in range(1, len(runs) - 1):
        first, last, n = runs[k]
        if n >= 2:
            mids.append(0.5 * ((last - first) + (runs[k + 1][0] - runs[k - 1][1])))
    interior = max(len(runs) - 2, 0)
    if len(mids) < 3 or len(mids) < 0.5 * interior:
        return None
    return float(median(mids))


def window_energy(
    samples: Sequence[Sample],
    info: SensorInfo,
    t0: float,
    t1: float,
    *,
    period_s: float | None = None,
    nominal_interval_s: float | None = None,
    power_rel_err: float = POWER_REL_ERR,
    end_level: EndLevel = "after",
) -> EnergyEstimate:
    """Energy of `info`'s sensor in [t0, t1] from its samples (pass some seconds of context around).

    `period_s` is the counter's step period when the caller knows it (the sampler's lock);
    otherwise it is detected from the samples or taken from `info`. `nominal_interval_s` is the
    sampler's intended read interval (gap threshold); by default the median read interval.
    `end_level` says where the end edge's counter interval takes its power level: "after" the
    window (the load ends with the window), or "inside" it, from the step before the end (a load
    that outlives the window a little, such as a background being stopped, must not count).
    """
    samples = sorted(samples, key=lambda s: s.t_mono)
    good = [s for s in samples if s.error is None]
    times = np.array([s.t_mono for s in good], dtype=float)
    if nominal_interval_s is None:
        nominal_interval_s = float(np.median(np.diff(times))) if times.size >= 2 else 1.0
    gap_s = max(2.5 * nominal_interval_s, 1e-3)
    if period_s is not None and not (math.isfinite(period_s) and period_s > 0):
        period_s = None  # a caller's period that is no period: detect it instead
    detected = period_s or detect_update_period(samples, "energy_j")
    base = dict(sensor=info.name, domain=info.domain, duration_s=t1 - t0, update_period_s=detected,
                **_window_stats(times, t0, t1, gap_s, nominal_interval_s))
    reads = [_Read(s.t_mono, s.energy_j, s.read_latency_s or 0.0) for s in good if s.energy_j is not None]
    curve = _power_curve(good, reads)
    errors = [s for s in samples if s.error is not None and t0 <= s.t_mono <= t1]
    period = detected or info.update_period_s
    lag_s = max(period or 0.0, nominal_interval_s)
    est = None
    if curve is not None and reads:
        est = _counter_estimate(reads, curve, info, t0, t1, period, bool(period_s), gap_s, lag_s,
                                power_rel_err, errors, end_level)
    if est is None and curve is not None:
        est = _trapezoid_estimate(curve, info, t0, t1, gap_s, lag_s, power_rel_err, errors)
    if est is None or curve is None:
        reason = "no readings in the window"
        first_error = errors[0].error if errors else next((s.error for s in samples if s.error), None)
        if first_error:
            reason += f" (read errors; first: {first_error})"
        return EnergyEstimate(energy_j=None, uncertainty_j=None, method=info.method, reason=reason, **base)
    covered = est.end - est.start
    inside = curve.p[(curve.t >= t0) & (curve.t <= t1)]
    return EnergyEstimate(
        energy_j=est.energy_j, uncertainty_j=est.bound_j + info.relative_uncertainty * abs(est.energy_j),
        method=est.method, partial=est.partial, reason=est.reason,
        mean_power_w=est.energy_j / covered if covered > 0 else None,
        peak_power_w=float(inside.max()) if inside.size else None, **base,
    )


@dataclass(frozen=True)
class _Result:
    energy_j: float
    bound_j: float
    method: str
    start: float  # the covered part of the window
    end: float
    partial: bool
    reason: str | None


def _window_stats(times: np.ndarray, t0: float, t1: float, gap_s: float, nominal_s: float) -> dict:
    """Sample count, achieved rate and gaps of the good readings in [t0, t1] (and one either side)."""
    i = int(np.searchsorted(times, t0, side="left"))
    j = int(np.searchsorted(times, t1, side="right"))
    inside = times[i:j]
    span = times[max(i - 1, 0):min(j + 1, times.size)]
    diffs = np.diff(span) if span.size >= 2 else np.array([])
    rounds, last = 0, -math.inf  # extra counter reads between rounds do not raise the rate
    for t in inside:
        if t - last >= 0.5 * nominal_s:
            rounds, last = rounds + 1, t
    rate = float((rounds - 1) / (inside[-1] - inside[0])) if rounds >= 2 and inside[-1] > inside[0] else None
    return dict(sample_count=int(inside.size), achieved_rate_hz=rate, gap_count=int((diffs > gap_s).sum()),
                max_gap_s=float(diffs.max()) if diffs.size else None)


def _power_curve(good: list[Sample], reads: list[_Read]) -> _PowerCurve | None:
    pts = [(s.t_mono, s.power_w) for s in good if s.power_w is not None]
    if not pts and len(reads) >= 2:  # derive mean power between counter reads
        pts = [((a.t + b.t) / 2, (b.energy_j - a.energy_j) / (b.t - a.t)) for a, b in zip(reads, reads[1:]) if b.t > a.t]
    if not pts:
        return None
    t = np.array([p[0] for p in pts], dtype=float)
    p = np.array([p[1] for p in pts], dtype=float)
    keep = np.concatenate(([True], np.diff(t) > 0))  # drop duplicate instants
    return _PowerCurve(t[keep], p[keep])


def _join(reasons: list[str], errors: list[Sample]) -> str | None:
    if reasons and errors:
        reasons.append(f"{len(errors)} read errors in the window; first: {errors[0].error}")
    return "; ".join(reasons) or None


# --- the counter method ------------------------------------------------------------------------
def _counter_estimate(reads: list[_Read], curve: _PowerCurve, info: SensorInfo, t0: float, t1: float,
                      period: float | None, period_measured: bool, gap_s: float, lag_s: float, rel: float,
                      errors: list[Sample], end_level: EndLevel = "after") -> _Result | None:
    anchors = grid_anchors(reads, period, period_measured, curve)
    if not anchors:
        return None
    resolution = info.resolution_j or 0.0
    e0 = _edge(anchors, curve, t0, "start", period, gap_s, lag_s, rel)
    e1 = _edge(anchors, curve, t1, "end" if end_level == "after" else "end_inside", period, gap_s, lag_s, rel)
    reasons = []
    if e0 is None:
        e0 = _covered_edge(anchors, curve, t0, t1, gap_s, lag_s, rel, first=True)
        if e0 is None:
            return None
        reasons.append(f"no usable reading from the window start to +{e0.t - t0:.2f} s")
    if e1 is None:
        e1 = _covered_edge(anchors, curve, t0, t1, gap_s, lag_s, rel, first=False)
        if e1 is None or e1.t <= e0.t:
            return None
        reasons.append(f"no usable reading from +{e1.t - t0:.2f} s to the window end")
    resets = [s for s in errors if s.error and s.error.startswith(COUNTER_RESET)]
    if resets:
        reasons.append(f"{COUNTER_RESET} at +{resets[0].t_mono - t0:.2f} s: the energy between the reads "
                       "around it is missing")
    return _Result(energy_j=e1.energy_j - e0.energy_j, bound_j=e0.bound_j + e1.bound_j + 2 * resolution,
                   method=info.method, start=e0.t, end=e1.t, partial=bool(reasons), reason=_join(reasons, errors))


def _covered_edge(anchors: list[_Anchor], curve: _PowerCurve, t0: float, t1: float, gap_s: float, lag_s: float,
                  rel: float, first: bool) -> _Edge | None:
    """Where readings start (first) or stop inside the window: the first/last power sample there,
    else the first/last anchor."""
    inside = curve.t[(curve.t >= t0) & (curve.t <= t1)]
    if inside.size:
        t = float(inside[0] if first else inside[-1])
        found = _nearest_edge(anchors, curve, t, gap_s, lag_s, rel)
        if found is not None:
            return found
    pick = [a for a in anchors if t0 <= a.mid <= t1]
    if not pick:
        return None
    a = pick[0] if first else pick[-1]
    return _Edge(a.energy_j, a.half * curve.extremes(a.lo, a.hi)[1], a.mid)


def _anchors(reads: list[_Read], period: float | None) -> list[_Anchor]:
    """One anchor per run of equal counter values: the step that began the run.

    A read's counter instant lies within +/- latency/2 of its timestamp. The step happened after
    the previous run's last read and by the run's first read; with a known period it also happened
    at most one period (plus 10 % slack) before the run's last read.
    """
    out: list[_Anchor] = []
    prev_end: float | None = None
    i = 0
    while i < len(reads):
        j = i
        while j + 1 < len(reads) and reads[j + 1].energy_j == reads[i].energy_j:
            j += 1
        first, last = reads[i], reads[j]
        hi = first.t + first.latency_s / 2
        lo = prev_end if prev_end is not None else -math.inf
        if period:
            lo_p = last.t - last.latency_s / 2 - 1.1 * period
            if lo_p < hi:
                lo = max(lo, lo_p)
        if math.isfinite(lo) and lo < hi and (prev_end is None or reads[i].energy_j > reads[i - 1].energy_j):
            out.append(_Anchor(lo, hi, first.energy_j))
        prev_end = last.t - last.latency_s / 2
        i = j + 1
    return out


def _refine_with_grid(anchors: list[_Anchor], period: float, period_measured: bool = False,
                      curve: _PowerCurve | None = None, rel: float = POWER_REL_ERR) -> list[_Anchor]:
    """Narrow wide anchors with the step grid of nearby reference anchors (steps come every period).

    Reference anchors are those located to within period/8. The grid's period is `period` when the
    caller measured it (the sampler's lock, over long baselines), else it is measured from pairs of
    reference anchors. How far located steps stray from the grid (bracket slack and jitter together)
    is measured from those pairs a few steps apart, and assumed to be `_DEFAULT_DEVIATION` x period
    without any. Each anchor is a distinct step, so a wide anchor m anchors before (after) its
    reference lies at least m steps before (after) it. It is narrowed to the one grid step its
    bracket holds; where it holds two, to the one whose energy to a narrow neighbour anchor is a
    mean power the power readings (`curve`) allow.
    """
    refs = [a for a in anchors if _is_reference(a, period)]
    pairs = [(a, b, round((b.mid - a.mid) / period)) for a, b in zip(refs, refs[1:])]
    pairs = [(a, b, k) for a, b, k in pairs if 1 <= k <= 50]
    if period_measured:
        t_est = period
    elif len(pairs) >= 2:
        t_est = sum(b.mid - a.mid for a, b, _ in pairs) / sum(k for _, _, k in pairs)
    else:
        return anchors
    local = [(a, b, k) for a, b, k in pairs if k <= 2 * _GRID_MAX_K]  # far pairs add the period's error
    deviation = max((abs(b.mid - a.mid - k * t_est) for a, b, k in local), default=_DEFAULT_DEVIATION * period)
    if deviation > period / 4 or not refs:  # no usable grid
        return anchors
    mids = np.array([r.mid for r in refs])
    rank = {id(a): n for n, a in enumerate(anchors)}
    out = list(anchors)
    ambiguous: dict[int, list[_Anchor]] = {}
    for n, a in enumerate(anchors):
        if _is_reference(a, period):
            continue
        i = int(np.searchsorted(mids, a.mid))
        near = min((refs[k] for k in (i - 1, i) if 0 <= k < len(refs)), key=lambda r: abs(r.mid - a.mid))
        if abs(a.mid - near.mid) > (_GRID_MAX_K - 0.5) * t_est:
            continue
        between = abs(n - rank[id(near)])  # distinct steps from a to near, a's own included
        ks = range(-_GRID_MAX_K, -between + 1) if a.mid < near.mid else range(between, _GRID_MAX_K + 1)
        tol = near.half + deviation + 5e-4
        cands = [_Anchor(max(a.lo, c - tol), min(a.hi, c + tol), a.energy_j)
                 for c in (near.mid + k * t_est for k in ks) if max(a.lo, c - tol) < min(a.hi, c + tol)]
        if len(cands) == 1:
            out[n] = cands[0]
        elif cands:
            ambiguous[n] = cands
    if curve is not None:
        for n, cands in ambiguous.items():
            fits = [c for c in cands if _power_allows(c, out, n, curve, period, rel)]
            if len(fits) == 1:
                out[n] = fits[0]
    return out


def _is_reference(a: _Anchor, period: float) -> bool:
    """Located precisely enough to carry the step grid (and to judge a placement's power)."""
    return a.half <= _REFERENCE_FRACTION * period


def _power_allows(cand: _Anchor, anchors: list[_Anchor], n: int, curve: _PowerCurve, period: float,
                  rel: float) -> bool:
    """Whether anchor n placed at `cand` makes the mean power to each narrow neighbour anchor one
    the power readings allow (their range two periods either side: they lag; +/- `rel`, and the
    span's own uncertainty). Only where every refresh around the span was read."""
    for m in (n - 1, n + 1):
        if not 0 <= m < len(anchors) or not _is_reference(anchors[m], period):
            continue
        first, last = (anchors[m], cand) if m < n else (cand, anchors[m])
        if not curve.covers(first.lo - period, last.hi + period, 1.1 * period):
            continue  # a refresh between them went unread: the readings may not show its power
        span = last.mid - first.mid
        if span <= first.half + last.half:
            return False
        power = (last.energy_j - first.energy_j) / span
        slack = power * (first.half + last.half) / span
        pmin, pmax = curve.extremes(first.mid - 2 * period, last.mid + 2 * period)
        if not pmin * (1 - rel) - slack <= power <= pmax * (1 + rel) + slack:
            return False
    return True


def grid_anchors(reads: list[_Read], period: float | None, period_measured: bool,
                 curve: _PowerCurve | None = None) -> list[_Anchor]:
    """The counter's steps located from its reads, narrowed with the step grid when there is one."""
    anchors = _anchors(reads, period)
    return _refine_with_grid(anchors, period, period_measured, curve) if period else anchors


def _edge(anchors: list[_Anchor], curve: _PowerCurve, t: float, side: str, period: float | None,
          gap_s: float, lag_s: float, rel: float) -> _Edge | None:
    """Cumulative energy at edge `t`: "start" or "end" of the window ("end_inside": the end, with
    the level of its counter interval read inside the window)."""
    i = bisect.bisect_right([a.mid for a in anchors], t)
    if 0 < i < len(anchors):
        found = _interval_edge(anchors[i - 1], anchors[i], curve, t, side, period or lag_s, rel)
        if found is not None:
            return found
    return _nearest_edge(anchors, curve, t, gap_s, lag_s, rel)


def _interval_edge(a: _Anchor, b: _Anchor, curve: _PowerCurve, t: float, side: str, period: float,
                   rel: float) -> _Edge | None:
    """The edge inside the counter interval (a, b], whose energy the counter gives exactly.

    No reading shows how energy is spread inside one counter interval, so the part outside the
    window is taken at the power level just outside it (the load runs inside the window): before a
    for the start, after b for the end, read where the power readings' one-update lag cannot mix
    in the window's own load. "end_inside" instead adds the part from a to t at the level read
    there, inside the window (for a load that outlives the window's end).
    """
    span = b.mid - a.mid
    if b.energy_j < a.energy_j or max(a.half, b.half) > span / 4:
        return None
    from_a = side in ("start", "end_inside")  # the energy from step a up to t, else from t up to b
    if side == "start":
        lo, hi = a.mid - period, t
    elif side == "end_inside":
        lo, hi = a.mid, t
    else:
        lo, hi = b.mid + 1.25 * period, b.mid + 2.25 * period
    d, step = (t - a.mid, a) if from_a else (b.mid - t, b)
    k, m = np.searchsorted(curve.t, [lo, hi], side="left")[0], np.searchsorted(curve.t, hi, side="right")
    outside = curve.p[k:m]
    if from_a:
        outside = np.append(outside, curve.value(t))
    elif outside.size == 0:
        return None
    level = float(outside.mean())
    spread = float(outside.max() - outside.min())
    value = a.energy_j + level * d if from_a else b.energy_j - level * d
    value = min(max(value, a.energy_j), b.energy_j)
    bound = min(d * (spread + rel * level) + step.half * level, b.energy_j - a.energy_j)
    return _Edge(value, bound, t)


def _nearest_edge(anchors: list[_Anchor], curve: _PowerCurve, t: float, gap_s: float, lag_s: float,
                  rel: float) -> _Edge | None:
    """The best nearby anchor plus the power integral to `t`, or the monotone bracket between the
    anchors around `t` (energy never decreases)."""
    best: _Edge | None = None
    for a in anchors:
        if abs(a.mid - t) > EDGE_SEARCH_S:
            continue
        lo, hi = min(a.mid, t), max(a.mid, t)
        if not curve.covers(lo, hi, gap_s):
            continue
        integral = curve.integral(a.mid, t)
        pmin, pmax = curve.extremes(lo - lag_s, hi + lag_s)
        loc_max = curve.extremes(a.lo - lag_s, a.hi + lag_s)[1]
        bound = (hi - lo) * (pmax - pmin) + rel * abs(integral) + a.half * loc_max
        if best is None or bound < best.bound_j:
            best = _Edge(a.energy_j + integral, bound, t)
    before = next((a for a in reversed(anchors) if a.hi <= t), None)
    after = next((a for a in anchors if a.lo >= t), None)
    if before is not None and after is not None:
        half = (after.energy_j - before.energy_j) / 2
        if best is None or half < best.bound_j:
            best = _Edge(before.energy_j + half, half, t)
    return best


# --- the trapezoid method ----------------------------------------------------------------------
def _trapezoid_estimate(curve: _PowerCurve, info: SensorInfo, t0: float, t1: float, gap_s: float,
                        lag_s: float, rel: float, errors: list[Sample]) -> _Result | None:
    """Integral of the power samples; coverage stops where the samples stop (partial)."""
    t = curve.t
    if not ((t >= t0) & (t <= t1)).any():
        return None  # no power reading inside the window: integrating extrapolations would invent energy
    start = t0 if t[0] <= t0 + gap_s else float(t[0])
    end = t1 if t[-1] >= t1 - gap_s else float(t[-1])
    if end <= start:
        return None
    energy = curve.integral(start, end)
    i, j = np.searchsorted(t, [start, end])
    tt = np.concatenate(([start], t[i:j], [end]))
    pp = np.array([curve.value(x) for x in tt])
    dt, dp = np.diff(tt), np.abs(np.diff(pp))
    bound = float((dt * dp / 2).sum())  # the curve between two samples stays between their values
    gaps = dt > gap_s
    bound += float((dt[gaps] * np.maximum(pp[:-1], pp[1:])[gaps] / 2).sum())  # gaps: +/-50 % assumed
    for edge in (start, end):  # readings may lag the load by one update period at the edges
        lo, hi = curve.extremes(edge - lag_s, edge + lag_s)
        bound += lag_s * (hi - lo)
    bound += rel * abs(energy)
    reasons = []
    if start > t0:
        reasons.append(f"no power reading from the window start to +{start - t0:.2f} s")
    if end < t1:
        reasons.append(f"no power reading from +{end - t0:.2f} s to the window end")
    method = info.method if "trapezoid" in info.method else (
        "nvml-power-trapezoid" if info.domain == "gpu" else "power-trapezoid")
    return _Result(energy_j=energy, bound_j=bound, method=method, start=start, end=end,
                   partial=bool(reasons), reason=_join(reasons, errors))
