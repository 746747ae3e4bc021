"""Expected wall time of planned experiments, with an honest range.

Per workload, a *base* prediction of the training's duration:
- from the store's history of the same workload (same mode and same categorical size-like
  hyperparameters where the history has them): a log-linear fit of duration on the hyperparameters
  that drive it (epochs, steps, sizes: exponent ~1; batch size: ~-0.5), each exponent pulled towards
  that prior so a few points never overfit; the range from the fit's predictive spread;
- else from the workload's declared `estimated_duration_s`, scaled by its scale parameter and its
  other drivers at their prior exponents, with a wide range (declared on some other machine);
- else from this session's finished experiments of the workload, fitted the same way;
- else unknown.
Live correction: the session's finished experiments give the ratio of actual to predicted duration;
a workload already seen in the session uses its own ratios, others the median over all workloads
(this machine today vs the history or the declaration). Overheads (idle baseline, cooldown, a
background's start-up) are declared until the session measures them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from statistics import median
from typing import Callable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from hyperwatt.mutation import PlannedExperiment

#: the range is a 90 % interval
Z90 = 1.645
#: prior spread of a driver's exponent around its prior value (log-log)
PRIOR_SD = 0.5
#: spread (log) of a duration predicted from a declaration made on another machine
DECLARED_SD = 0.9
#: the least spread (log) any prediction claims: runs of one setting vary by this much
FLOOR_SD = 0.08
#: spread (log) of one run around its prediction when nothing measured it (a declaration)
RUN_SD = 0.15
#: prior spread (log) of how much faster or slower this session runs than its history
SESSION_DRIFT_SD = 0.3
#: correlation of the errors of the experiments of one plan (same machine, same day)
CORRELATION = 0.5

_BATCH = re.compile(r"batch|(^|_)bs($|_)", re.I)
_LINEAR = re.compile(r"epoch|step|iter|sample|size|len|subset|frame|round|n_train|num_train|limit", re.I)


class Past(NamedTuple):
    """One finished experiment of a workload: its training duration and what it ran with."""

    duration_s: float
    hyperparameters: Mapping[str, object]
    mode: str = "sequential"
    background: str | None = None


@dataclass(frozen=True)
class Estimate:
    """Seconds: central, and a 90 % range."""

    central_s: float
    low_s: float
    high_s: float

    def scaled(self, factor: float) -> Estimate:
        return Estimate(self.central_s * factor, self.low_s * factor, self.high_s * factor)


@dataclass(frozen=True)
class Eta:
    """The remaining wall time of a set of experiments; `unknown` counts those without an estimate."""

    central_s: float | None
    low_s: float | None
    high_s: float | None
    unknown: int = 0

    def text(self) -> str:
        if self.central_s is None:
            return "unknown"
        if self.high_s is None or self.low_s is None or self.high_s - self.low_s < 1.0:
            core = fmt_duration(self.central_s)
        else:
            core = f"{fmt_duration(self.central_s)} ({fmt_duration(self.low_s)}–{fmt_duration(self.high_s)})"
        return core + (f" + {self.unknown} unknown" if self.unknown else "")

    def as_dict(self) -> dict[str, float | int | None]:
        return {"seconds": self.central_s, "low_s": self.low_s, "high_s": self.high_s, "unknown": self.unknown}


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def overhead_s(pe: PlannedExperiment) -> float:
    """Idle baseline and minimum cooldown, spent around every experiment, and in parallel mode
    the background's start-up before the readiness gate opens."""
    background = pe.background.workload.estimated_startup_s if pe.background is not None else 0.0
    return pe.timing.idle_baseline_s + pe.timing.cooldown.min_s + background


def declared_s(pe: PlannedExperiment) -> float:
    """The workload's declared duration, its part above `estimated_startup_s` scaled by the
    experiment's value of the workload's scale parameter (`epochs` by default) against its default,
    where both are numbers."""
    w = pe.workload
    assert w.estimated_duration_s is not None
    startup = min(w.estimated_startup_s, w.estimated_duration_s)
    name = w.scale_parameter
    param = w.hyperparameters.get(name) if name else None
    value = pe.foreground.values.get(name) if name else None
    default = param.default if param is not None else None
    if _number(default) and default > 0 and value is not None and _number(value.typed):  # type: ignore[operator]
        return startup + (w.estimated_duration_s - startup) * value.typed / default  # type: ignore[operator]
    return w.estimated_duration_s


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class _Drivers:
    """The hyperparameters of a workload that drive its duration."""

    numeric: dict[str, tuple[float, float]]  # name -> (reference value, prior exponent)
    categorical: tuple[tuple[str, str], ...]  # (name, default as text)

    @classmethod
    def of(cls, pe: PlannedExperiment) -> _Drivers:
        w = pe.workload
        numeric: dict[str, tuple[float, float]] = {}
        categorical = []
        for name, p in w.hyperparameters.items():
            prior = (1.0 if name == w.scale_parameter else -0.5 if _BATCH.search(name)
                     else 1.0 if _LINEAR.search(name) else None)
            if prior is None:
                continue
            if p.type in ("int", "float"):
                d = p.default
                ref = float(d) if isinstance(d, (int, float)) and _number(d) and d > 0 else 1.0
                numeric[name] = (ref, prior)
            elif p.type == "str":
                categorical.append((name, str(p.default)))
        return cls(numeric, tuple(categorical))

    def z(self, values: Mapping[str, object]) -> list[float]:
        out = []
        for name, (ref, _prior) in self.numeric.items():
            v = values.get(name)
            out.append(math.log(float(v) / ref) if isinstance(v, (int, float)) and _number(v) and v > 0 else 0.0)
        return out

    def category(self, values: Mapping[str, object], mode: str, background: str | None) -> tuple[object, ...]:
        return (mode, background, *(str(values.get(n, default)) for n, default in self.categorical))


@dataclass(frozen=True)
class _Fit:
    coef: np.ndarray
    cov: np.ndarray
    sigma: float
    #: extra spread: the points came from another category (e.g. another size or mode)
    extra_sd: float = 0.0

    def predict(self, z: Sequence[float]) -> tuple[float, float]:
        """log duration and its predictive standard deviation."""
        x = np.array([1.0, *z])
        var = float(x @ self.cov @ x) + self.sigma ** 2 + self.extra_sd ** 2
        return float(x @ self.coef), math.sqrt(var)


def _fit(points: Sequence[tuple[list[float], float]], priors: Sequence[float], extra_sd: float = 0.0) -> _Fit:
    """Bayesian linear regression of log duration on log driver ratios, exponents with a
    N(prior, PRIOR_SD) prior, the noise re-estimated from the residuals (never below FLOOR_SD)."""
    k = len(priors)
    zs = np.array([p[0] for p in points], dtype=float).reshape(len(points), k)
    ys = np.array([p[1] for p in points], dtype=float)
    prior_rows = np.hstack([np.zeros((k, 1)), np.eye(k)]) / PRIOR_SD
    prior_y = np.array(priors, dtype=float) / PRIOR_SD
    intercept_row = np.zeros((1, k + 1))
    intercept_row[0, 0] = 1e-3  # an almost flat prior on the level keeps the system solvable

    def solve(sigma: float) -> tuple[np.ndarray, np.ndarray]:
        a = np.vstack([np.hstack([np.ones((len(ys), 1)), zs]) / sigma, prior_rows, intercept_row])
        b = np.concatenate([ys / sigma, prior_y, [0.0]])
        coef = np.linalg.lstsq(a, b, rcond=None)[0]
        return coef, np.linalg.pinv(a.T @ a)

    coef, _ = solve(0.15)
    resid = ys - (coef[0] + zs @ coef[1:])
    n = len(ys)
    sigma = max(FLOOR_SD, math.sqrt(float(resid @ resid) / (n - 1))) if n > 1 else 0.2
    coef, cov = solve(sigma)
    return _Fit(coef, cov, sigma, extra_sd)


def _points(drivers: _Drivers, past: Iterable[Past], category: tuple[object, ...]) -> tuple[list[tuple[list[float], float]], float]:
    """The usable points of the same category; all of them, with extra spread, when none is."""
    usable = [p for p in past if _number(p.duration_s) and p.duration_s > 0]
    same = [p for p in usable if drivers.category(p.hyperparameters, p.mode, p.background) == category]
    chosen, extra = (same, 0.0) if same else (usable, 1.0)
    return [(drivers.z(p.hyperparameters), math.log(p.duration_s)) for p in chosen], extra


@dataclass
class Estimator:
    """Predicts experiments' durations from history, declarations and this session's finished runs."""

    history: Callable[[str], Sequence[Past]]
    #: this session's finished experiments: workload -> [(planned experiment, training s)]
    seen: dict[str, list[tuple[PlannedExperiment, float]]] = field(default_factory=dict)
    #: log(actual / base prediction) of this session's experiments, per workload
    ratios: dict[str, list[float]] = field(default_factory=dict)
    #: measured overhead (elapsed minus training) of this session's experiments, per mode
    overheads: dict[str, list[float]] = field(default_factory=dict)
    _past: dict[str, list[Past]] = field(default_factory=dict)
    #: fits per (workload, source, category): one per group of experiments, not one per experiment
    _fits: dict[tuple[str, str, tuple[object, ...]], _Fit] = field(default_factory=dict)

    def _fitted(self, pe: PlannedExperiment, source: str, category: tuple[object, ...], drivers: _Drivers,
                past: Sequence[Past]) -> _Fit | None:
        key = (pe.workload.name, source, category)
        if key not in self._fits:
            points, extra = _points(drivers, past, category)
            if not points:
                return None
            self._fits[key] = _fit(points, [prior for _ref, prior in drivers.numeric.values()], extra)
        return self._fits[key]

    def _history(self, workload: str) -> list[Past]:
        if workload not in self._past:
            self._past[workload] = list(self.history(workload))
        return self._past[workload]

    def _base(self, pe: PlannedExperiment) -> tuple[float, float, str, float, float] | None:
        """log training duration, its sd, the source ('history', 'declared', 'session'), one run's
        noise around it and, for a declaration, the sd its drivers' prior exponents add."""
        drivers = _Drivers.of(pe)
        values = pe.foreground.typed()
        category = drivers.category(values, pe.mode, pe.background.workload.name if pe.background else None)
        past = self._history(pe.workload.name)
        fit = self._fitted(pe, "history", category, drivers, past) if past else None
        if fit is not None:
            mu, sd = fit.predict(drivers.z(values))
            return mu, sd, "history", fit.sigma, 0.0
        if pe.workload.estimated_duration_s is not None:
            # the scale parameter is in declared_s; the other drivers at their prior exponents
            terms = [(prior, z) for (name, (_ref, prior)), z in zip(drivers.numeric.items(), drivers.z(values))
                     if name != pe.workload.scale_parameter]
            drift = math.sqrt(sum((PRIOR_SD * z) ** 2 for _p, z in terms))
            mu = math.log(declared_s(pe)) + sum(prior * z for prior, z in terms)
            return mu, math.hypot(DECLARED_SD, drift), "declared", RUN_SD, drift
        seen = self.seen.get(pe.workload.name)
        if seen:
            as_past = [Past(d, s.foreground.typed(), s.mode, s.background.workload.name if s.background else None)
                       for s, d in seen]
            fit = self._fitted(pe, "session", category, drivers, as_past)
            if fit is not None:
                mu, sd = fit.predict(drivers.z(values))
                return mu, sd, "session", fit.sigma, 0.0
        return None

    def predict(self, pe: PlannedExperiment) -> Estimate | None:
        """The experiment's wall time (training and overheads), corrected by this session so far."""
        base = self._base(pe)
        if base is None:
            return None
        mu, sd, source, noise, drift = base
        if source != "session":  # a fit on this session's own runs needs no correction
            # how much slower or faster this session runs: a normal prior (centred on the other
            # workloads' shift when some ran) updated by this workload's own runs
            tau = DECLARED_SD if source == "declared" else SESSION_DRIFT_SD
            own = self.ratios.get(pe.workload.name, [])
            others = [r for w, rs in self.ratios.items() if w != pe.workload.name for r in rs]
            m0, tau0 = (sum(others) / len(others), min(tau, _spread(others, SESSION_DRIFT_SD))) if others else (0.0, tau)
            precision = len(own) / noise ** 2 + 1 / tau0 ** 2
            mu += (sum(own) / noise ** 2 + m0 / tau0 ** 2) / precision
            if source == "declared":
                sd = math.sqrt(noise ** 2 + drift ** 2 + 1 / precision) if own or others else sd
            else:
                sd = math.sqrt(sd ** 2 + 1 / precision)
        over = self.overheads.get(pe.mode)
        extra = median(over) if over else overhead_s(pe)
        return Estimate(math.exp(mu) + extra, math.exp(mu - Z90 * sd) + extra, math.exp(mu + Z90 * sd) + extra)

    def observe(self, pe: PlannedExperiment, training_s: float | None, elapsed_s: float | None = None) -> None:
        """A finished experiment of this session: its training duration and, if known, its whole wall time."""
        if training_s is None or not _number(training_s) or training_s <= 0:
            return
        base = self._base(pe)
        if base is not None and base[2] != "session":
            self.ratios.setdefault(pe.workload.name, []).append(math.log(training_s) - base[0])
        first = not any(self.seen.values())  # the session's first experiment also paid its one-time set-up
        self.seen.setdefault(pe.workload.name, []).append((pe, training_s))
        self._fits = {k: f for k, f in self._fits.items() if not (k[0] == pe.workload.name and k[1] == "session")}
        if elapsed_s is not None and elapsed_s >= training_s and not first:
            self.overheads.setdefault(pe.mode, []).append(elapsed_s - training_s)

    def remaining(self, pending: Sequence[PlannedExperiment],
                  running: Sequence[tuple[PlannedExperiment, float]] = (), slots: int = 1) -> Eta:
        """Wall time left: the pending experiments and what is left of the running ones (with the
        seconds they have run), spread over `slots` experiments at a time."""
        parts: list[Estimate] = []
        unknown = 0
        for pe in pending:
            est = self.predict(pe)
            if est is None:
                unknown += 1
            else:
                parts.append(est)
        for pe, ran_s in running:
            est = self.predict(pe)
            if est is None:
                unknown += 1
            else:
                parts.append(Estimate(max(est.central_s - ran_s, 0.0), max(est.low_s - ran_s, 0.0),
                                      max(est.high_s - ran_s, 0.0)))
        if not parts:
            return Eta(None if unknown else 0.0, None if unknown else 0.0, None if unknown else 0.0, unknown)
        return combine(parts, unknown, max(slots, 1))


def _spread(logs: Sequence[float], default: float) -> float:
    if len(logs) < 2:
        return default
    m = sum(logs) / len(logs)
    return max(FLOOR_SD, math.sqrt(sum((x - m) ** 2 for x in logs) / (len(logs) - 1)))


def combine(parts: Sequence[Estimate], unknown: int, slots: int) -> Eta:
    """Sum of estimates: their errors partly correlated (CORRELATION), each side of the range apart."""
    central = sum(p.central_s for p in parts)
    up = [p.high_s - p.central_s for p in parts]
    down = [p.central_s - p.low_s for p in parts]

    def half(width: Sequence[float]) -> float:
        return math.sqrt(CORRELATION * sum(width) ** 2 + (1 - CORRELATION) * sum(w * w for w in width))

    return Eta(central / slots, (central - half(down)) / slots, (central + half(up)) / slots, unknown)


def estimate_s(pe: PlannedExperiment, history: Callable[[str], Sequence[Past]]) -> float | None:
    """One experiment's expected wall time from history or its declaration (no session yet)."""
    est = Estimator(history).predict(pe)
    return est.central_s if est is not None else None
