"""A plan's search entries, run inside its session: each trial is a planned experiment on the session's
slots (measured, verified and recorded like any other), asked of and told to the search's study."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from hyperwatt.config import ExperimentSpec, LoadedPlan, coerce
from hyperwatt.engine.context import EngineContext, Slot
from hyperwatt.mutation import PlannedExperiment, canonical_key, key_hash, resolve
from hyperwatt.records import ExperimentRecord
from hyperwatt.search import SearchDriver, SearchOutcome, TrialRequest, parse_constraints, parse_objectives
from hyperwatt.search.space import distributions, grid, to_values
from hyperwatt.search.study import make_sampler, open_study, require_optuna, storage_url
from hyperwatt.space import Value
from hyperwatt.store import SlotRow

#: Runs one planned experiment on a slot (the session's lifecycle, cooldown included) and returns its record.
RunOne = Callable[[PlannedExperiment, Slot], ExperimentRecord]


@dataclass(frozen=True)
class SearchEntry:
    index: int
    spec: ExperimentSpec
    study_name: str


def search_entries(loaded: LoadedPlan) -> list[SearchEntry]:
    """The plan's search entries with their study names: the plan's name, the entry and a hash of
    what defines the study (a changed search space or objective starts a new study)."""
    out = []
    for index, spec in enumerate(loaded.plan.experiments):
        if spec.search is None:
            continue
        ident = json.dumps([spec.workload, spec.mode, spec.hyperparameters,
                            spec.background.model_dump() if spec.background else None,
                            spec.search.parameters, spec.search.objectives, spec.search.sampler], sort_keys=True)
        digest = hashlib.sha256(ident.encode()).hexdigest()[:8]
        out.append(SearchEntry(index, spec, f"{loaded.plan.name}.experiments[{index}].{digest}"))
    return out


class SlotEvaluator:
    """Trials on the session's slots: one thread per slot takes the next trial, runs it, hands back its record."""

    def __init__(self, slots: list[Slot], run_one: RunOne, make: Callable[[TrialRequest], PlannedExperiment],
                 interrupt: threading.Event) -> None:
        self.slots = len(slots)
        self._make = make
        self._interrupt = interrupt
        self._todo: queue.Queue[tuple[TrialRequest, PlannedExperiment] | None] = queue.Queue()
        self._done: queue.Queue[tuple[TrialRequest, ExperimentRecord | None]] = queue.Queue()
        self._errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._work, args=(s, run_one), name=f"search-{s.label}", daemon=True)
                         for s in slots]
        for t in self._threads:
            t.start()

    def _work(self, slot: Slot, run_one: RunOne) -> None:
        while True:
            item = self._todo.get()
            if item is None:
                return
            request, pe = item
            if self._interrupt.is_set():
                self._done.put((request, None))
                continue
            try:
                self._done.put((request, run_one(pe, slot)))
            except BaseException as exc:  # surfaced in the driver's thread
                self._errors.append(exc)
                self._interrupt.set()
                self._done.put((request, None))

    def submit(self, request: TrialRequest) -> None:
        self._todo.put((request, self._make(request)))

    def next_done(self) -> tuple[TrialRequest, ExperimentRecord | None]:
        item = self._done.get()
        if self._errors:
            raise self._errors[0]
        return item

    def close(self) -> None:
        for _ in self._threads:
            self._todo.put(None)
        for t in self._threads:
            t.join()


def run_searches(loaded: LoadedPlan, ctx: EngineContext, slots: list[Slot], run_one: RunOne,
                 message: Callable[[str], None]) -> list[SearchOutcome]:
    """Every search entry in plan order, on the session's slots; stops early on an interrupt."""
    entries = search_entries(loaded)
    if not entries:
        return []
    require_optuna()
    outcomes = []
    for entry in entries:
        if ctx.interrupt.is_set():
            break
        outcomes.append(_run_one_search(loaded, entry, ctx, slots, run_one, message))
    store_hint = storage_url(ctx.layout.results_dir)
    message(f"search studies: {store_hint} (optuna-dashboard {store_hint})")
    return outcomes


def _run_one_search(loaded: LoadedPlan, entry: SearchEntry, ctx: EngineContext, slots: list[Slot], run_one: RunOne,
                    message: Callable[[str], None]) -> SearchOutcome:
    spec, search = entry.spec, entry.spec.search
    assert search is not None
    store = ctx.store
    assert store is not None  # searches run in the driver, which holds the store
    plan = loaded.plan
    workload = loaded.registry.get(spec.workload)
    background = None
    if spec.background is not None:
        background = resolve(loaded.registry.get(spec.background.workload), spec.background.hyperparameters)
    dists = distributions(workload, search.parameters)
    objectives = parse_objectives(search.objectives)
    constraints = parse_constraints(search.constraints)
    study = open_study(storage_url(ctx.layout.results_dir), entry.study_name, [o.direction for o in objectives], None)
    with warnings.catch_warnings():  # experimental in Optuna (since 3.2); the report labels axes with it
        warnings.simplefilter("ignore")
        study.set_metric_names([o.name for o in objectives])
    # seeded by the plan, the entry and how far the study got: a continued study draws new points
    study.sampler = make_sampler(
        search.sampler, len(objectives), search.trials, plan.seed + 7919 * entry.index + len(study.trials),
        grid(workload, search.parameters, search.grid_points) if search.sampler == "grid" else None,
        constrained=bool(constraints))

    def setting(values: dict[str, Value]) -> Any:
        return resolve(workload, spec.hyperparameters, values)

    def key_of(values: dict[str, Value]) -> str:
        return canonical_key(spec.mode, setting(values), background)

    lock = threading.Lock()

    def make(request: TrialRequest) -> PlannedExperiment:
        fg = setting(request.values)
        key = canonical_key(spec.mode, fg, background)
        with lock:
            slot = max((r.slot for r in store.slots(ctx.session_id)), default=-1) + 1
            label = f"search #{request.number}" + (" (default)" if request.is_default else "")
            pe = PlannedExperiment(slot=slot, spec_index=entry.index, label=label, mode=spec.mode, foreground=fg,
                                   background=background, mutated=tuple(search.parameters), repeat_index=0,
                                   timing=plan.timing_for(spec), key=key, key_hash=key_hash(key))
            store.save_slots(ctx.session_id, [SlotRow(pe.slot, pe.key_hash, workload.name, pe.label)])
        return pe

    defaults: dict[str, Any] = {}
    for name in search.parameters:
        default = workload.hyperparameters[name].default
        if default is not None:
            defaults[name] = coerce(workload.hyperparameters[name], default)
    history = {r.key: r for r in store.experiments()
               if r.workload == workload.name and r.mode == spec.mode and r.status == "succeeded"}
    driver = SearchDriver(study, dists, objectives, constraints, search.trials, lambda p: to_values(workload, p),
                          key_of, defaults if len(defaults) == len(search.parameters) else None,
                          budget_j=None if search.energy_budget_kj is None else 1000 * search.energy_budget_kj,
                          history=history, should_stop=ctx.interrupt.is_set)
    message(f"search experiments[{entry.index}]: {search.trials} trials of {workload.name} over "
            f"{', '.join(search.parameters)} ({', '.join(search.objectives)})")
    evaluator = SlotEvaluator(slots, run_one, make, ctx.interrupt)
    try:
        outcome = driver.run(evaluator)
    finally:
        evaluator.close()
    ran, reused = outcome.ran, len(outcome.results) - outcome.ran
    failed = sum(r.state == "fail" for r in outcome.results)
    message(f"search experiments[{entry.index}]: {ran} trial(s) run, {reused} reused from the store, "
            f"{failed} failed; {outcome.energy_spent_j / 1000:.3g} kJ measured; stopped by {outcome.stopped_by}")
    return outcome
