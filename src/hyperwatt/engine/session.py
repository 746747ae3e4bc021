"""A session: one invocation of a plan — dedup, preflight, sensors, the executor, cooldowns,
summary and verification report. Resumable after a crash or an interrupt."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from hyperwatt import __version__
from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.config import LoadedPlan, Registry, load_plan
from hyperwatt.engine import environment, preflight
from hyperwatt.engine.context import EngineContext, Slot
from hyperwatt.engine.energy import settle_unmeasured
from hyperwatt.engine.executors import Executor, LocalExecutor
from hyperwatt.engine.jobs import Job, JobResult, jobs_for, lost_record, place_files
from hyperwatt.engine.lifecycle import new_experiment_id
from hyperwatt.engine.limits import attempt_timeout_s
from hyperwatt.engine.recording import save_record, tokens_of
from hyperwatt.engine.search_trials import run_searches, search_entries
from hyperwatt.engine.slots import SensorsFactory, host_slots, open_sensors, run_on_slot
from hyperwatt.engine.signals import interrupt_on_signals
from hyperwatt.errors import ConfigError, HyperwattError, PreflightError
from hyperwatt.dedup import skip_reasons
from hyperwatt.mutation import PlannedExperiment, expand
from hyperwatt.process import kill_tagged
from hyperwatt.process.tree import command_line
from hyperwatt.records import ExperimentRecord
from hyperwatt.sensors.governor import governed
from hyperwatt.store import (
    SessionLayout, SessionRow, SlotRow, Store, atomic_write_text, existing_store, open_store, write_summary,
)
from hyperwatt.store.diskfull import disk_full, is_disk_full
from hyperwatt.store.lock import runner_lock
from hyperwatt.store.pick import pick_session
from hyperwatt.verify.checks import apply as apply_checks
from hyperwatt.verify.report import write_verification
from hyperwatt.verify.verdicts import outcome
from hyperwatt.words import command

FINISHED = ("succeeded", "failed", "invalid")


class SessionEvents:
    """Hooks for progress displays; every method is optional."""

    def planned(self, session_id: str, total: int, skipped: int, pending: list[PlannedExperiment]) -> None: ...
    def experiment_started(self, pe: PlannedExperiment, slot: Slot) -> None: ...
    def experiment_finished(self, record: ExperimentRecord) -> None: ...
    def cooling(self, record: ExperimentRecord) -> None: ...
    def message(self, text: str) -> None: ...


@dataclass
class SessionOptions:
    results_dir: Path = Path("results")
    rerun: bool = False
    echo: Callable[[str], None] | None = None
    #: Builds the sensors for a plan; None discovers the real ones. Tests pass fakes.
    sensors_factory: SensorsFactory | None = None
    clock: Clock = SYSTEM_CLOCK
    python: str = sys.executable
    #: "local" or "ray"; None: the plan's `[execution] executor`
    executor: str | None = None
    #: the Ray cluster; None: the plan's `[execution] ray_address`, else $RAY_ADDRESS, else a local Ray
    ray_address: str | None = None
    #: the GPUs (NVML indices) to run on; None: the plan's `[sensors] gpus`, else every visible GPU
    gpus: list[int] | None = None


@dataclass
class SessionResult:
    """What a session did; `layout` is None when there was nothing to run (no session was made)."""

    session_id: str
    layout: SessionLayout | None
    records: list[ExperimentRecord] = field(default_factory=list)
    skipped: int = 0
    signum: int | None = None
    #: planned experiments of this session that have no final record (they never ran)
    never_ran: int = 0

    @property
    def exit_code(self) -> int:
        """128 + the signal when interrupted (130, 143), else 1 if an experiment failed or never
        ran, else 0 (`exit_status(strict=True)` also counts invalid ones)."""
        return self.exit_status(strict=False)

    def exit_status(self, strict: bool) -> int:
        if self.signum:
            return 128 + self.signum
        bad = ("failed", "invalid") if strict else ("failed",)
        # an interrupted record is superseded by its slot's rerun, or counted in never_ran
        if self.never_ran or any(r.status in bad for r in self.records):
            return 1
        return 0

    @property
    def invalid(self) -> list[ExperimentRecord]:
        return [r for r in self.records if outcome(r) == "invalid"]


def new_session_id(clock: Clock) -> str:
    stamp = datetime.fromtimestamp(clock.time()).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:4]}"


def run_plan(loaded: LoadedPlan, options: SessionOptions, events: SessionEvents | None = None) -> SessionResult:
    """Start a new session of the plan and run it to the end (or to an interrupt)."""
    events = events or SessionEvents()
    plan = loaded.plan
    expansion = expand(loaded)
    for warning in expansion.warnings:
        events.message(warning)
    preflight.check_results_dir(options.results_dir, plan.preflight)
    preflight.check_workloads(loaded.workloads, options.python)
    with runner_lock(options.results_dir):
        return _start(loaded, expansion.experiments, options, events)


def _start(loaded: LoadedPlan, experiments: list[PlannedExperiment], options: SessionOptions,
           events: SessionEvents) -> SessionResult:
    plan = loaded.plan
    store = open_store(options.results_dir)
    try:
        counts = {} if options.rerun else store.succeeded_counts(pe.key_hash for pe in experiments)
        rows = [SlotRow(pe.slot, pe.key_hash, pe.workload.name, pe.label, skip_reason=reason)
                for pe, reason in zip(experiments, skip_reasons(experiments, counts))]
        if rows and all(row.skip_reason for row in rows):  # a finished plan run again: no empty session
            return SessionResult(session_id="", layout=None, skipped=len(rows))
        session_id = new_session_id(options.clock)
        layout = SessionLayout(options.results_dir, session_id)
        layout.dir.mkdir(parents=True)
        atomic_write_text(layout.plan, loaded.resolved_toml())
        store.begin_session(SessionRow(
            session_id=session_id, name=plan.name, plan_path=str(loaded.source.resolve()),
            plan_hash=loaded.plan_hash, results_dir=str(options.results_dir.resolve()),
            started_wall=options.clock.time(), status="running", planned=len(rows),
            host=socket.gethostname(), pid=os.getpid(), version=__version__,
        ))
        store.save_slots(session_id, rows)
        pending = [pe for pe, row in zip(experiments, rows) if row.skip_reason is None]
        unlimited = sorted({pe.workload.name for pe in pending
                            if pe.timing.timeout_s == "auto" and attempt_timeout_s(pe) is None})
        if unlimited:  # "auto" without an estimate is no limit: a hung training would hold the session
            events.message(f"no time limit for {', '.join(unlimited)}: timing.timeout_s is \"auto\" and the "
                           "workload declares no estimated_duration_s, so a training that hangs runs until Ctrl-C; "
                           "set either")
        events.planned(session_id, len(rows), len(rows) - len(pending), pending)
        return _execute(loaded, session_id, layout, store, pending, options, events, len(rows) - len(pending))
    finally:
        store.close()


def find_resumable(results_dir: Path, loaded: LoadedPlan) -> str | None:
    """The latest unfinished session of this very plan, if any."""
    store = open_store(results_dir, readonly=True)
    try:
        for row in reversed(store.sessions()):
            if row.plan_hash == loaded.plan_hash and row.status != "completed":
                return row.session_id
    finally:
        store.close()
    return None


def unfinished_versions(results_dir: Path, loaded: LoadedPlan) -> list[str]:
    """Unfinished sessions of a plan of the same name whose content differs (the plan was edited
    since): `run --resume` does not finish them, and says so."""
    store = open_store(results_dir, readonly=True)
    try:
        return [row.session_id for row in store.sessions()
                if row.name == loaded.plan.name and row.plan_hash != loaded.plan_hash and row.status != "completed"]
    finally:
        store.close()


class AlreadyComplete(HyperwattError):
    """`resume` of a session that has nothing left to run: said, and not an error (exit 0)."""

    exit_code = 0


def resume(session_id: str | None, options: SessionOptions, events: SessionEvents | None = None) -> SessionResult:
    """Finish a session (the latest when `session_id` is None): stale `running` experiments become
    `interrupted`, then every slot not yet finished runs (interrupted ones again); nothing finished
    runs twice, nothing is skipped. A completed session raises AlreadyComplete."""
    events = events or SessionEvents()
    existing_store(options.results_dir)
    with runner_lock(options.results_dir):
        return _resume(session_id, options, events)


def _resume(session_id: str | None, options: SessionOptions, events: SessionEvents) -> SessionResult:
    existing_store(options.results_dir)
    store = open_store(options.results_dir)
    try:
        row = pick_session(store, session_id, options.results_dir)
        session_id = row.session_id
        if row.status == "completed":
            raise AlreadyComplete(f"session {session_id} is already complete: nothing to resume; its report: "
                                  f"`{command('report', session_id, results_dir=options.results_dir)}`")
        if row.status == "imported":
            raise HyperwattError(f"session {session_id} was imported from the seed system, not run here: "
                                 "nothing to resume")
        if row.status == "running" and _alive(row):
            raise HyperwattError(f"session {session_id} is still running (pid {row.pid} on {row.host})")
        layout = SessionLayout(options.results_dir, session_id)
        loaded = load_plan(layout.plan, Registry.builtin())
        expansion = expand(loaded)
        rows = store.slots(session_id)[:len(expansion.experiments)]  # search trials' rows follow them
        if [r.key_hash for r in rows] != [pe.key_hash for pe in expansion.experiments]:
            raise ConfigError(layout.plan, None, "the plan no longer expands to the session's experiments; "
                              "was plan.toml or a workload changed? start a new session instead")
        for stale in store.running(session_id):
            for token in tokens_of(stale):
                kill_tagged(token, grace_s=1.0)
            stale.status = "interrupted"
            stale.status_reason = "the runner stopped while this experiment ran (found on resume)"
            stale.ended_wall = stale.ended_wall or options.clock.time()
            settle_unmeasured(stale, sensors_present=True)
            apply_checks(stale, loaded.plan.parallel)
            save_record(layout, store, stale)
        finished = {r.slot for r in store.experiments(session_id) if r.status in FINISHED}
        skipped = {r.slot for r in rows if r.skip_reason}
        pending = [pe for pe in expansion.experiments if pe.slot not in finished and pe.slot not in skipped]
        store.update_session(session_id, status="running", pid=os.getpid(), host=socket.gethostname())
        events.planned(session_id, len(rows), len(skipped) + len(finished), pending)
        return _execute(loaded, session_id, layout, store, pending, options, events, len(skipped))
    finally:
        store.close()


def _alive(row: SessionRow) -> bool:
    if row.host != socket.gethostname():
        return False
    cmdline = command_line(row.pid)
    return cmdline is not None and "hyperwatt" in cmdline


def _execute(loaded: LoadedPlan, session_id: str, layout: SessionLayout, store: Store,
             pending: list[PlannedExperiment], options: SessionOptions, events: SessionEvents,
             skipped: int) -> SessionResult:
    """Run the pending experiments; a full disk ends the session with one line saying what was kept."""
    try:
        return _run_pending(loaded, session_id, layout, store, pending, options, events, skipped)
    except Exception as exc:
        if not is_disk_full(exc, options.results_dir):
            raise
        raise disk_full(options.results_dir, exc, _kept(store, session_id, options.results_dir)) from None


def _kept(store: Store, session_id: str, results_dir: Path) -> str:
    try:
        done = sum(r.status in FINISHED for r in store.experiments(session_id))
    except HyperwattError:
        done = None
    count = "the" if done is None else f"{done}"
    return (f"{count} finished experiment(s) of session {session_id} (store and folders; the one in flight "
            f"reruns); free space, then run `{command('resume', session_id, results_dir=results_dir)}`")


def _run_pending(loaded: LoadedPlan, session_id: str, layout: SessionLayout, store: Store,
                 pending: list[PlannedExperiment], options: SessionOptions, events: SessionEvents,
                 skipped: int) -> SessionResult:
    plan = loaded.plan
    if options.gpus is not None:
        plan = plan.model_copy(update={"sensors": plan.sensors.model_copy(update={"gpus": options.gpus})})
    remote = (options.executor or plan.execution.executor) == "ray"
    # with Ray, each node measures with its own sensors; the driver's host may have no GPU at all
    sensors = None if remote else open_sensors(plan, options.sensors_factory, options.clock)
    monitor = None
    result = SessionResult(session_id=session_id, layout=layout, skipped=skipped)
    aborted = False
    try:
        slots = host_slots(sensors)
        try:
            if not remote:
                preflight.check_requested_gpus(plan.sensors.gpus, sensors,
                                               "--gpus" if options.gpus is not None else loaded.source)
            if pending and not remote:
                preflight.check_gpus_free(slots, plan.preflight, options.clock, events.message)
        except PreflightError:
            aborted = True  # nothing ran: the session stays resumable, not "completed"
            raise
        if sensors is not None:
            from hyperwatt.sensors import Monitor

            monitor = Monitor(sensors, rate_hz=plan.sensors.rate_hz, clock=options.clock,
                              lock_interval_s=plan.sensors.lock_interval_s)
            monitor.start()
        ctx = EngineContext(
            session_id=session_id, layout=layout, store=store, plan=plan, plan_hash=loaded.plan_hash,
            environment=environment.capture(sensors, loaded.plan_hash), monitor=monitor, sensors=sensors,
            clock=options.clock, python=options.python, echo=options.echo,
        )
        by_position = {pe.slot: pe for pe in pending}
        jobs = jobs_for(loaded, session_id, pending, has_gpus=any(s.gpu is not None for s in slots) or remote,
                        plan_toml=layout.plan.read_text())

        def run_here(job: Job, slot: Slot, more: bool) -> JobResult:
            pe = by_position[job.position]
            events.experiment_started(pe, slot)
            return JobResult(job.position, run_on_slot(ctx, pe, slot, more, events.cooling))

        def finished(job_result: JobResult) -> None:
            record = job_result.record
            if job_result.files:  # ran on another node: its folder comes back whole
                place_files(layout.experiment(record.experiment_id).dir, job_result.files)
                save_record(layout, store, record)
            if monitor is not None:  # the record and its timeline are written: free the samples
                monitor.discard_before(options.clock.monotonic() - 5.0)
            write_summary(layout.summary, store.experiments(session_id))
            events.experiment_finished(record)

        def run_trial(pe: PlannedExperiment, slot: Slot) -> ExperimentRecord:
            events.experiment_started(pe, slot)
            record = run_on_slot(ctx, pe, slot, True, events.cooling)
            finished(JobResult(pe.slot, record))
            return record

        def lost(job: Job, reason: str) -> JobResult:
            pe = by_position[job.position]
            record = lost_record(pe, session_id, loaded.plan_hash, new_experiment_id(pe), reason, options.clock)
            save_record(layout, store, record)
            return JobResult(job.position, record)

        executor: Executor
        if remote:
            from hyperwatt.engine.ray_executor import RayExecutor

            executor = RayExecutor(session_id, address=options.ray_address or plan.execution.ray_address,
                                   working_dir=plan.execution.working_dir, retries=plan.timing.retries,
                                   sensors_factory=options.sensors_factory, lost=lost, message=events.message)
            for pe in pending:
                events.experiment_started(pe, Slot())
        else:
            executor = LocalExecutor(slots, run_here)
        with interrupt_on_signals(ctx.interrupt) as sig, governed(plan.governor, events.message):
            executor.run(jobs, finished, ctx.interrupt)
            if not ctx.interrupt.is_set():
                if remote and search_entries(loaded):
                    events.message("search entries run on local slots only; run them without --executor ray")
                elif not remote:
                    run_searches(loaded, ctx, slots, run_trial, events.message)
            result.signum = sig.signum
    finally:
        if monitor is not None:
            monitor.stop()
        if sensors is not None:
            sensors.close()
        result.records = store.experiments(session_id)
        done = {r.slot for r in result.records if r.status in FINISHED}
        result.never_ran = sum(pe.slot not in done for pe in pending)
        # never "completed" while a planned experiment has no final record: `resume` runs it
        status = ("interrupted" if result.signum or aborted else "incomplete" if result.never_ran
                  else "completed")
        store.update_session(session_id, status=status, ended_wall=options.clock.time())
        write_summary(layout.summary, result.records)
        write_verification(layout, store.session(session_id), store.slots(session_id), result.records, plan)
    return result
