"""The ask / evaluate / tell loop of a search, independent of where trials run.

An evaluator takes trial requests and returns each one's experiment record when it finishes
(`submit` / `next_done`, so several slots stay busy). The driver asks the sampler, runs the default
setting first, gives the study every setting already measured instead of re-running it, tells a
trial FAIL (with the reason) whenever its measurement is not valid, and stops at the trial count
or when the energy the search measured reaches its budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from hyperwatt.records import ExperimentRecord
from hyperwatt.search.objectives import Constraint, Objective, value_of
from hyperwatt.search.study import set_constraints
from hyperwatt.space import Value


@dataclass(frozen=True)
class TrialRequest:
    number: int
    params: dict[str, Any]  # as Optuna suggested them
    values: dict[str, Value]  # exactly what the training receives
    is_default: bool


@dataclass(frozen=True)
class TrialResult:
    request: TrialRequest
    state: str  # "complete" | "fail"
    objectives: list[float] | None
    reason: str
    experiment_id: str | None
    energy_j: float  # energy this trial's training used (0 when reused or unmeasured)
    reused: bool = False


class Evaluator(Protocol):
    slots: int

    def submit(self, request: TrialRequest) -> None: ...

    def next_done(self) -> tuple[TrialRequest, ExperimentRecord | None]: ...


@dataclass
class SearchOutcome:
    results: list[TrialResult] = field(default_factory=list)
    energy_spent_j: float = 0.0
    stopped_by: str = "trials"  # trials | budget | interrupted

    @property
    def ran(self) -> int:
        return sum(not r.reused for r in self.results)


class SearchDriver:
    """One search entry: `trials` trials over `distributions`, told `objectives`, held to `constraints`."""

    def __init__(self, study: Any, distributions: dict[str, Any], objectives: list[Objective],
                 constraints: list[Constraint], trials: int, to_values: Callable[[dict[str, Any]], dict[str, Value]],
                 key_of: Callable[[dict[str, Value]], str], default_params: dict[str, Any] | None,
                 budget_j: float | None = None, history: dict[str, ExperimentRecord] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> None:
        self.study = study
        self.dists = distributions
        self.objectives = objectives
        self.constraints = constraints
        self.trials = trials
        self.to_values = to_values
        self.key_of = key_of
        self.default_params = default_params
        self.budget_j = budget_j
        self.history = dict(history or {})
        self.should_stop = should_stop
        self._default_record: ExperimentRecord | None = None

    # --- set-up ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Trials left running by a stopped runner are failed and asked again; the default setting
        is trial 0; settings already measured (the store, imports) join the study as trials."""
        import optuna

        S = optuna.trial.TrialState
        for t in self.study.get_trials(deepcopy=False, states=(S.RUNNING,)):
            self.study.tell(t.number, state=S.FAIL)  # the runner stopped during it: asked again
            self.study.enqueue_trial(t.params, user_attrs={"default": bool(t.user_attrs.get("default"))},
                                     skip_if_exists=False)
        known = {t.user_attrs.get("key") for t in self.study.get_trials(deepcopy=False)}
        if self.default_params is not None and self._inside(self.default_params):
            default_key = self.key_of(self.to_values(self.default_params))
            self._default_record = self._succeeded(self.history.get(default_key))
            if not self.study.trials:
                self.study.enqueue_trial(self.default_params, user_attrs={"default": True})
        for key, record in self.history.items():
            if key in known or record.status != "succeeded":
                continue
            params = {n: record.hyperparameters.get(n) for n in self.dists}
            measured = [value_of(record, o.name) for o in self.objectives]
            values = [v for v in measured if v is not None and math.isfinite(v)]
            if not self._inside(params) or len(values) < len(measured):
                continue
            violations = self._violations(record)
            self.study.add_trial(optuna.trial.create_trial(
                params=params, distributions=self.dists, values=values,
                user_attrs={"key": key, "experiment_id": record.experiment_id, "reused": True,
                            "constraints": violations},
                system_attrs={"constraints": violations} if violations else None))

    def _inside(self, params: dict[str, Any]) -> bool:
        for name, dist in self.dists.items():
            value = params.get(name)
            if value is None:
                return False
            try:
                if not dist._contains(dist.to_internal_repr(value)):
                    return False
            except (ValueError, TypeError):
                return False
        return True

    # --- the loop -------------------------------------------------------------------------------
    def run(self, evaluator: Evaluator) -> SearchOutcome:
        import optuna

        self.prepare()
        out = SearchOutcome()
        in_flight: dict[int, Any] = {}
        # trials already spent: measured ones (complete, or failed with a record), not re-asked ones
        finished = sum(t.state.is_finished() and "experiment_id" in t.user_attrs
                       for t in self.study.get_trials(deepcopy=False) if not t.user_attrs.get("reused"))
        stop = False
        needs_default = any(c.relative for c in self.constraints)
        while True:
            if self.should_stop():
                out.stopped_by, stop = "interrupted", True
            waiting_for_default = needs_default and self._default_record is None and bool(in_flight)
            while (not stop and not waiting_for_default and len(in_flight) < evaluator.slots
                   and finished + len(in_flight) < self.trials):
                trial = self.study.ask(self.dists)
                values = self.to_values(trial.params)
                key = self.key_of(values)
                trial.set_user_attr("key", key)
                request = TrialRequest(trial.number, dict(trial.params), values,
                                       bool(trial.user_attrs.get("default")))
                known = self.history.get(key)
                if known is not None and known.status == "succeeded":
                    out.results.append(self._tell(trial, request, known, reused=True))
                    finished += 1
                    continue
                evaluator.submit(request)
                in_flight[trial.number] = trial
                waiting_for_default = needs_default and self._default_record is None
            if not in_flight:
                break
            request, record = evaluator.next_done()
            trial = in_flight.pop(request.number)
            if record is None or record.status == "interrupted":  # asked again when the search resumes
                trial.set_user_attr("reason", "interrupted")
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                self.study.enqueue_trial(trial.params, user_attrs={"default": request.is_default},
                                         skip_if_exists=False)
                out.stopped_by, stop = "interrupted", True
                continue
            self.history[trial.user_attrs["key"]] = record
            result = self._tell(trial, request, record, reused=False)
            out.results.append(result)
            out.energy_spent_j += result.energy_j
            finished += 1
            if self.budget_j is not None and out.energy_spent_j >= self.budget_j and not stop:
                out.stopped_by, stop = "budget", True
        return out

    def _tell(self, trial: Any, request: TrialRequest, record: ExperimentRecord, reused: bool) -> TrialResult:
        import optuna

        if request.is_default and record.status == "succeeded":
            self._default_record = record
        energy = 0.0 if reused else _spent(record)
        trial.set_user_attr("experiment_id", record.experiment_id)
        trial.set_user_attr("energy_j", energy)
        trial.set_user_attr("reused", reused)
        values = [value_of(record, o.name) for o in self.objectives]
        reason = ""
        if record.status != "succeeded":
            reason = f"{record.status}: {record.status_reason or ', '.join(f.code for f in record.flags)}"
        elif any(v is None or not math.isfinite(v) for v in values):
            missing = [o.name for o, v in zip(self.objectives, values) if v is None or not math.isfinite(v)]
            reason = f"not measured: {', '.join(missing)}"
        if reason:  # never told as a valid value: the sampler learns nothing false
            trial.set_user_attr("reason", reason)
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return TrialResult(request, "fail", None, reason, record.experiment_id, energy, reused)
        set_constraints(trial, self._violations(record))
        self.study.tell(trial, [float(v) for v in values])  # type: ignore[arg-type]
        return TrialResult(request, "complete", [float(v) for v in values], "", record.experiment_id,  # type: ignore[arg-type]
                           energy, reused)

    @staticmethod
    def _succeeded(record: ExperimentRecord | None) -> ExperimentRecord | None:
        return record if record is not None and record.status == "succeeded" else None

    def _violations(self, record: ExperimentRecord) -> list[float]:
        default = self._default_record
        out = []
        for c in self.constraints:
            base = value_of(default, c.name) if default is not None else None
            out.append(c.violation(value_of(record, c.name), base))
        return out


def _spent(record: ExperimentRecord) -> float:
    """Energy a trial's training used: GPU + CPU where measured (0 when nothing was)."""
    e = record.energy
    if not e.available:
        return 0.0
    total = e.total_energy_j if e.total_energy_j is not None else e.gpu_energy_j
    return float(total or 0.0)
