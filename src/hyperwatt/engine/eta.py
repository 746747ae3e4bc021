"""Expected wall time of planned experiments, with an honest range.

An experiment's wall time = its training + its overheads (+ a prepare step the session has not run yet).

Training, per workload, from the first source that has something:
- the store's history of the same workload (same mode and same categorical size-like
  hyperparameters where the history has them): a log-linear fit of duration on the hyperparameters
  that drive it (epochs, steps, sizes: exponent ~1; batch size: ~-0.5), each exponent pulled towards
  that prior so a few points never overfit; the range from the fit's predictive spread. Corrected
  live by how much faster or slower this session runs: the workload's own runs, and for the
  others the machine-wide shift the session's runs show (a hierarchical normal model);
- the workload's declaration, in two parts: `estimated_startup_s` (interpreter, imports, data:
  fixed) and the rest, which scales with the drivers (the scale parameter with exponent 1, the
  others at their prior exponents). This machine's factor on each part is learnt from the
  session's finished runs: per workload, around a session-wide factor that the workloads share
  (a machine 30x slower per epoch than the declaring GPU starts Python about as fast), so a
  workload not run yet gets the session's factors, with the spread declarations show between
  workloads;
- this session's finished experiments of the workload, fitted like a history;
- else unknown.
Overheads (idle baseline, cooldown, a background's start-up) are declared; what the session's
experiments spend beyond them (process start, records, a longer cooldown) is measured and added.
A workload's prepare step runs once per session: an experiment that will run one pays it (its time
as measured in this session, else the workload's declared start-up).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from statistics import median
from typing import Callable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from hyperwatt.engine.prepare import prepare_key
from hyperwatt.mutation import PlannedExperiment

#: the range is a 90 % interval
Z90 = 1.645
#: prior spread of a driver's exponent around its prior value (log-log)
PRIOR_SD = 0.5
#: prior spread (log) of this machine's factor on a declared start-up (interpreter, imports, data)
STARTUP_SD = 0.5
#: prior spread (log) of this machine's factor on the declared part that scales with epochs: a CPU
#: can be tens of times slower than the GPU a duration was declared on
WORK_SD = 2.0
#: spread (log) of one workload's factors around the machine's: declarations are not equally good
WORKLOAD_SD = 0.5
#: spread (log) of one workload's shift from its history around the machine's
HISTORY_WORKLOAD_SD = 0.15
#: spread (log) of a prepare step's duration around its estimate
PREPARE_SD = 0.7
#: weight (in runs) of RUN_SD against the session's own repeats when estimating the run-to-run noise
NOISE_PRIOR_RUNS = 2.0
#: the least spread (log) any prediction claims: runs of one setting vary by this much
FLOOR_SD = 0.08
#: spread (log) of one run around its prediction before the session measured its own noise
RUN_SD = 0.15
#: prior spread (log) of how much faster or slower this machine runs today than its history (with
#: HISTORY_WORKLOAD_SD, a workload not run yet today: 0.29)
SESSION_DRIFT_SD = 0.25
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


def declared_parts(pe: PlannedExperiment) -> tuple[float, float, float]:
    """The workload's declared duration for this experiment in two parts: its `estimated_startup_s`
    (fixed) and the rest, scaled by the experiment's drivers against their defaults (the scale
    parameter, `epochs` by default, with exponent 1, the others at their prior exponents); and the
    spread (log) those prior exponents add to the second part."""
    w = pe.workload
    assert w.estimated_duration_s is not None
    startup = min(w.estimated_startup_s, w.estimated_duration_s)
    drivers = _Drivers.of(pe)
    log_f, drift2 = 0.0, 0.0
    for (name, (_ref, prior)), z in zip(drivers.numeric.items(), drivers.z(pe.foreground.typed())):
        if name not in drivers.referenced:
            continue
        log_f += prior * z
        if name != w.scale_parameter:
            drift2 += (PRIOR_SD * z) ** 2
    return startup, (w.estimated_duration_s - startup) * math.exp(log_f), math.sqrt(drift2)


def declared_s(pe: PlannedExperiment) -> float:
    """The workload's declared duration for this experiment (see `declared_parts`)."""
    startup, work, _ = declared_parts(pe)
    return startup + work


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class _Drivers:
    """The hyperparameters of a workload that drive its duration."""

    numeric: dict[str, tuple[float, float]]  # name -> (reference value, prior exponent)
    categorical: tuple[tuple[str, str], ...]  # (name, default as text)
    #: the numeric drivers whose reference is their default (a positive number), not a stand-in
    referenced: frozenset[str] = frozenset()

    @classmethod
    def of(cls, pe: PlannedExperiment) -> _Drivers:
        w = pe.workload
        numeric: dict[str, tuple[float, float]] = {}
        categorical, referenced = [], set()
        for name, p in w.hyperparameters.items():
            prior = (1.0 if name == w.scale_parameter else -0.5 if _BATCH.search(name)
                     else 1.0 if _LINEAR.search(name) else None)
            if prior is None:
                continue
            if p.type in ("int", "float"):
                d = p.default
                has_ref = isinstance(d, (int, float)) and _number(d) and d > 0
                numeric[name] = (float(d) if has_ref else 1.0, prior)  # type: ignore[arg-type]
                if has_ref:
                    referenced.add(name)
            elif p.type == "str":
                categorical.append((name, str(p.default)))
        return cls(numeric, tuple(categorical), frozenset(referenced))

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
    #: the points it was fitted on
    n: int = 1

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
    return _Fit(coef, cov, sigma, extra_sd, n)


def _points(drivers: _Drivers, past: Iterable[Past], category: tuple[object, ...]) -> tuple[list[tuple[list[float], float]], float]:
    """The usable points of the same category; all of them, with extra spread, when none is."""
    usable = [p for p in past if _number(p.duration_s) and p.duration_s > 0]
    same = [p for p in usable if drivers.category(p.hyperparameters, p.mode, p.background) == category]
    chosen, extra = (same, 0.0) if same else (usable, 1.0)
    return [(drivers.z(p.hyperparameters), math.log(p.duration_s)) for p in chosen], extra


@dataclass(frozen=True)
class _Observed:
    """One finished training of a workload with a declaration: its declared parts and its log duration."""

    workload: str
    startup_s: float
    work_s: float
    log_s: float


class _DeclaredFit:
    """This machine's factors on declared durations, learnt from the session's finished runs.

    log factor on the start-up = s0 + s_w, on the scaled part = e0 + e_w: (s0, e0) the machine's,
    N(0, STARTUP_SD), N(0, WORK_SD) a priori; (s_w, e_w) each seen workload's, N(0, WORKLOAD_SD).
    A run's log duration ~ N(log(startup x e^s + work x e^e), noise). Maximum a posteriori by
    nonlinear least squares; the covariance from its Jacobian (Laplace)."""

    def __init__(self, observed: Sequence[_Observed], noise_sd: float) -> None:
        self.names = sorted({o.workload for o in observed})
        self.index = {n: i for i, n in enumerate(self.names)}
        self.noise_sd = noise_sd
        size = 2 + 2 * len(self.names)
        prior_sd = np.array([STARTUP_SD, WORK_SD] + [WORKLOAD_SD] * (size - 2))
        if not observed:
            self.theta, self.cov = np.zeros(size), np.diag(prior_sd ** 2)
            return
        rows = [(self.index[o.workload], o.startup_s, o.work_s, o.log_s) for o in observed]

        def residuals(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            r = np.empty(len(rows) + size)
            jac = np.zeros((len(rows) + size, size))
            for i, (w, startup, work, y) in enumerate(rows):
                a = startup * math.exp(theta[0] + theta[2 + 2 * w])
                b = work * math.exp(theta[1] + theta[3 + 2 * w])
                r[i] = (y - math.log(a + b)) / noise_sd
                ws, we = a / (a + b), b / (a + b)
                jac[i, [0, 2 + 2 * w]] = -ws / noise_sd
                jac[i, [1, 3 + 2 * w]] = -we / noise_sd
            r[len(rows):] = theta / prior_sd
            jac[len(rows):] = np.diag(1.0 / prior_sd)
            return r, jac

        from scipy.optimize import least_squares

        solved = least_squares(lambda t: residuals(t)[0], np.zeros(size), jac=lambda t: residuals(t)[1])
        self.theta = solved.x
        jac = residuals(self.theta)[1]
        self.cov = np.linalg.pinv(jac.T @ jac)

    def predict(self, workload: str, startup_s: float, work_s: float, drift_sd: float) -> tuple[float, float]:
        """log training duration and its predictive sd; a workload not seen gets the machine's
        factors and WORKLOAD_SD more spread."""
        w = self.index.get(workload)
        s, e = self.theta[0], self.theta[1]
        if w is not None:
            s, e = s + self.theta[2 + 2 * w], e + self.theta[3 + 2 * w]
        a, b = startup_s * math.exp(s), work_s * math.exp(e)
        ws, we = a / (a + b), b / (a + b)
        grad = np.zeros(len(self.theta))
        grad[[0, 1]] = ws, we
        unseen = 0.0
        if w is not None:
            grad[[2 + 2 * w, 3 + 2 * w]] = ws, we
        else:
            unseen = WORKLOAD_SD ** 2 * (ws ** 2 + we ** 2)
        var = float(grad @ self.cov @ grad) + unseen + (we * drift_sd) ** 2 + self.noise_sd ** 2
        return math.log(a + b), math.sqrt(var)


def _shift(own: Sequence[float], others: Mapping[str, Sequence[float]], noise_sd: float) -> tuple[float, float]:
    """How much slower (log) a workload runs than its history says, and the sd of that: a machine-wide
    shift N(0, SESSION_DRIFT_SD) that the other workloads' runs inform, each workload's own around it
    (HISTORY_WORKLOAD_SD), its own runs last (noise_sd each)."""
    tau2 = HISTORY_WORKLOAD_SD ** 2
    precision, weighted = 1 / SESSION_DRIFT_SD ** 2, 0.0
    for logs in others.values():
        if logs:
            v = tau2 + noise_sd ** 2 / len(logs)
            precision += 1 / v
            weighted += (sum(logs) / len(logs)) / v
    mean, var = weighted / precision, 1 / precision + tau2
    if own:
        p = 1 / var + len(own) / noise_sd ** 2
        mean, var = (mean / var + sum(own) / noise_sd ** 2) / p, 1 / p
    return mean, math.sqrt(var)


@dataclass
class Estimator:
    """Predicts experiments' durations from history, declarations and this session's finished runs."""

    history: Callable[[str], Sequence[Past]]
    #: this session's finished experiments: workload -> [(planned experiment, training s)]
    seen: dict[str, list[tuple[PlannedExperiment, float]]] = field(default_factory=dict)
    #: log(actual / history's prediction) of this session's experiments, per workload
    ratios: dict[str, list[float]] = field(default_factory=dict)
    #: this session's trainings of workloads predicted from their declaration
    declared: list[_Observed] = field(default_factory=list)
    #: what the session's experiments spent beyond their training, prepare and declared overheads, per mode
    overheads: dict[str, list[float]] = field(default_factory=dict)
    #: the prepare steps this session ran (their keys) and how long each took
    prepared: set[str] = field(default_factory=set)
    prepare_s: list[float] = field(default_factory=list)
    _prepare_logs: set[str] = field(default_factory=set)
    _past: dict[str, list[Past]] = field(default_factory=dict)
    #: fits per (workload, source, category): one per group of experiments, not one per experiment
    _fits: dict[tuple[str, str, tuple[object, ...]], _Fit] = field(default_factory=dict)
    _declared_fit: _DeclaredFit | None = None
    _first_overhead: float | None = None
    #: log training durations per (workload, mode, drivers' values): the session's repeats
    _groups: dict[tuple[object, ...], list[float]] = field(default_factory=dict)
    _cache: dict[tuple[str, int], Estimate | None] = field(default_factory=dict)
    _keys: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    #: per workload with a history: its fit's residual spread and degrees of freedom
    _noise_prior: dict[str, tuple[float, float]] = field(default_factory=dict)

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

    def noise_sd(self, prior_sd: float = RUN_SD, prior_runs: float = NOISE_PRIOR_RUNS) -> float:
        """One run's spread (log) around its setting's duration on this machine today: a prior spread
        (RUN_SD, or a history's residual spread) weighed against the spread of the session's repeats."""
        squares = sum(sum((x - sum(g) / len(g)) ** 2 for x in g) for g in self._groups.values())
        dof = sum(len(g) - 1 for g in self._groups.values())
        return max(FLOOR_SD, math.sqrt((prior_runs * prior_sd ** 2 + squares) / (prior_runs + dof)))

    def _declared(self) -> _DeclaredFit:
        if self._declared_fit is None:
            self._declared_fit = _DeclaredFit(self.declared, self.noise_sd())
        return self._declared_fit

    def _base(self, pe: PlannedExperiment) -> tuple[float, float, str] | None:
        """log training duration, its sd and the source ('history', 'declared', 'session'),
        not corrected by this session."""
        drivers = _Drivers.of(pe)
        values = pe.foreground.typed()
        category = drivers.category(values, pe.mode, pe.background.workload.name if pe.background else None)
        past = self._history(pe.workload.name)
        fit = self._fitted(pe, "history", category, drivers, past) if past else None
        if fit is not None:
            mu, sd = fit.predict(drivers.z(values))
            self._noise_prior[pe.workload.name] = (fit.sigma, max(fit.n - 1, 1))
            return mu, sd, "history"
        if pe.workload.estimated_duration_s is not None:
            return math.log(declared_s(pe)), 0.0, "declared"
        seen = self.seen.get(pe.workload.name)
        if seen:
            as_past = [Past(d, s.foreground.typed(), s.mode, s.background.workload.name if s.background else None)
                       for s, d in seen]
            fit = self._fitted(pe, "session", category, drivers, as_past)
            if fit is not None:
                mu, sd = fit.predict(drivers.z(values))
                return mu, sd, "session"
        return None

    def training(self, pe: PlannedExperiment) -> tuple[float, float] | None:
        """log training duration and its sd, corrected by this session so far."""
        base = self._base(pe)
        if base is None:
            return None
        mu, sd, source = base
        name = pe.workload.name
        if source == "declared":
            startup, work, drift = declared_parts(pe)
            return self._declared().predict(name, startup, work, drift)
        if source == "history":
            others = {w: r for w, r in self.ratios.items() if w != name}
            # the history's own spread says how noisy this workload's runs are here, beside the session's repeats
            noise = self.noise_sd(*self._noise_prior.get(name, (RUN_SD, NOISE_PRIOR_RUNS)))
            shift, shift_sd = _shift(self.ratios.get(name, []), others, noise)
            return mu + shift, math.sqrt(sd ** 2 + shift_sd ** 2)
        return mu, sd  # a fit on this session's own runs needs no correction

    def predict(self, pe: PlannedExperiment) -> Estimate | None:
        """The experiment's wall time (training and overheads), corrected by this session so far;
        a prepare step it may run is not included (see `prepare`)."""
        key = (pe.key_hash, pe.spec_index)
        if key not in self._cache:
            self._cache[key] = self._predict(pe)
        return self._cache[key]

    def _predict(self, pe: PlannedExperiment) -> Estimate | None:
        trained = self.training(pe)
        if trained is None:
            return None
        mu, sd = trained
        extra = (self.overheads.get(pe.mode) or [x for xs in self.overheads.values() for x in xs]
                 or ([self._first_overhead] if self._first_overhead is not None else []))
        over = max(0.0, overhead_s(pe) + (median(extra) if extra else 0.0))
        return Estimate(math.exp(mu) + over, math.exp(mu - Z90 * sd) + over, math.exp(mu + Z90 * sd) + over)

    def prepare_keys(self, pe: PlannedExperiment) -> list[str]:
        """The prepare steps the experiment relies on (foreground, background)."""
        key = (pe.key_hash, pe.spec_index)
        if key not in self._keys:
            keys = (prepare_key(s, "{python}") for s in (pe.foreground, pe.background) if s is not None)
            self._keys[key] = [k for k in keys if k is not None]
        return self._keys[key]

    def prepare(self, pe: PlannedExperiment) -> Estimate:
        """One prepare step of the experiment's workload not run yet: as long as those of this session
        (their median), else the workload's declared start-up (a prepare starts Python and builds data)."""
        central = median(self.prepare_s) if self.prepare_s else pe.workload.estimated_startup_s
        return Estimate(central, central * math.exp(-Z90 * PREPARE_SD), central * math.exp(Z90 * PREPARE_SD))

    def observe(self, pe: PlannedExperiment, training_s: float | None, elapsed_s: float | None = None,
                prepared: Sequence[Mapping[str, object]] = ()) -> None:
        """A finished experiment of this session: its training duration, if known its whole wall time,
        and the prepare runs it relied on (its record's `environment["prepare"]`: log, duration_s)."""
        self._cache.clear()
        paid = 0.0
        for run in prepared:
            log_path, seconds = run.get("log"), run.get("duration_s")
            if isinstance(log_path, str) and log_path not in self._prepare_logs and _number(seconds):
                self._prepare_logs.add(log_path)
                paid += float(seconds)  # type: ignore[arg-type]
                self.prepare_s.append(float(seconds))  # type: ignore[arg-type]
        self.prepared.update(self.prepare_keys(pe))
        if training_s is None or not _number(training_s) or training_s <= 0:
            return
        base = self._base(pe)
        name = pe.workload.name
        if base is not None and base[2] == "history":
            self.ratios.setdefault(name, []).append(math.log(training_s) - base[0])
        if pe.workload.estimated_duration_s is not None:  # this machine against declarations, whatever the source
            startup, work, _ = declared_parts(pe)
            self.declared.append(_Observed(name, startup, work, math.log(training_s)))
        drivers = _Drivers.of(pe)
        values = pe.foreground.typed()
        group = (name, pe.mode, *drivers.z(values), *drivers.category(values, pe.mode, None))
        self._groups.setdefault(group, []).append(math.log(training_s))
        self._declared_fit = None
        self.seen.setdefault(name, []).append((pe, training_s))
        self._fits = {k: f for k, f in self._fits.items() if not (k[0] == name and k[1] == "session")}
        if elapsed_s is not None and _number(elapsed_s):
            extra = elapsed_s - training_s - paid - overhead_s(pe)
            if self._first_overhead is None and not self.overheads:
                self._first_overhead = extra  # the session's first also paid its one-time set-up (sensors)
            else:
                self.overheads.setdefault(pe.mode, []).append(extra)

    def remaining(self, pending: Sequence[PlannedExperiment],
                  running: Sequence[tuple[PlannedExperiment, float]] = (), slots: int = 1) -> Eta:
        """Wall time left: the pending experiments and what is left of the running ones (with the
        seconds they have run), spread over `slots` experiments at a time; each prepare step not run
        yet is paid by the first experiment that needs it."""
        parts: list[Estimate] = []
        unknown = 0
        prepared = set(self.prepared)
        for pe, ran_s in [*running, *((pe, 0.0) for pe in pending)]:
            est = self.predict(pe)
            for key in self.prepare_keys(pe):
                if key not in prepared:
                    prepared.add(key)
                    prep = self.prepare(pe)
                    est = est and Estimate(est.central_s + prep.central_s, est.low_s + prep.low_s,
                                           est.high_s + prep.high_s)
            if est is None:
                unknown += 1
            else:
                parts.append(Estimate(max(est.central_s - ran_s, 0.0), max(est.low_s - ran_s, 0.0),
                                      max(est.high_s - ran_s, 0.0)))
        if not parts:
            return Eta(None if unknown else 0.0, None if unknown else 0.0, None if unknown else 0.0, unknown)
        return combine(parts, unknown, max(slots, 1))


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
