"""One experiment, start to finish: baseline, background, readiness, measured foreground, stop,
verification, record. Cooldown is the session's step after the record is written; `add_cooldown`
checks the record again with it and rewrites it.

This module holds the process lifecycle (background loop, attempts, stops); the window and what
the GPU shows during it are `engine/window.py`, the energy `engine/measurement.py`, and finishing
and saving the record `engine/recording.py`."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from hyperwatt import attribution as attribution_rules
from hyperwatt import metrics as metrics_mod
from hyperwatt.engine import measurement, recording
from hyperwatt.engine import phases as phases_mod
from hyperwatt.engine import prepare as prepare_mod
from hyperwatt.engine.command import build_argv, build_env, placeholder_values, workdir
from hyperwatt.engine.context import EngineContext, Interrupted, Slot
from hyperwatt.engine.limits import attempt_timeout_s, max_log_bytes
from hyperwatt.engine.readiness import wait_until_ready
from hyperwatt.engine.window import GpuWatch, Window
from hyperwatt.errors import HyperwattError
from hyperwatt.mutation import PlannedExperiment
from hyperwatt.process import (
    BackgroundLoop,
    ProcessHandle,
    StopResult,
    last_line,
    spawn,
)
from hyperwatt.process.tree import command_line, exiting
from hyperwatt.records import (
    Attempt,
    BackgroundAlone,
    BackgroundRecord,
    BackgroundRunRecord,
    Cooldown,
    ExperimentRecord,
    PhaseMarker,
    StopRecord,
)
from hyperwatt.store import (
    ExperimentLayout,
)
from hyperwatt.store.diskfull import is_disk_full
from hyperwatt.verify import checks
from hyperwatt.verify.coverage import coverage, effective_intervals
from hyperwatt.words import exit_status

log = logging.getLogger(__name__)
POLL_S = 0.05
PID_POLL_S = 1.0
DEFAULT_MIN_RUN_S = 10.0


def new_experiment_id(pe: PlannedExperiment) -> str:
    w = pe.workload
    return f"{w.repo}_{w.model}_{pe.slot + 1:03d}_{pe.mode}_{uuid.uuid4().hex[:6]}"


class ExperimentRun:
    def __init__(self, ctx: EngineContext, pe: PlannedExperiment, slot: Slot) -> None:
        self.ctx = ctx
        self.pe = pe
        self.slot = slot
        self.policy = ctx.plan.parallel
        self.timing = pe.timing
        self.id = new_experiment_id(pe)
        self.layout: ExperimentLayout = ctx.layout.experiment(self.id)
        self.token = f"hw-{self.id}"
        self.tokens: list[str] = []
        self.baselines: dict[str, Any] = {}
        self.loop: BackgroundLoop | None = None
        self.stop_result: StopResult | None = None
        self.background_gone_mono: float | None = None
        self.min_run_s = DEFAULT_MIN_RUN_S
        self.window = Window()
        self.alone_span: tuple[float, float] | None = None  # monotonic span of the background-alone window
        self.record = self._new_record()
        self.watch = GpuWatch(slot.gpu, self.record.gpu_shared_with)

    # the lifecycle ----------------------------------------------------------------------------
    def run(self) -> ExperimentRecord:
        rec = self.record
        self._save()
        try:
            prepare_mod.before_window(self.ctx, self.pe, self.slot.gpu_index, rec)
            self.baselines = self._idle_baseline()
            if self.pe.mode == "parallel" and not self._start_background():
                return rec
            self._attempts()
        except Interrupted:
            rec.status = "interrupted"
            rec.status_reason = "the runner was interrupted"
        except Exception as exc:  # a bug must not lose the record or leave processes behind
            if is_disk_full(exc):
                raise  # not the training's fault: the record stays `running`, `resume` reruns it
            rec.status = "failed"
            rec.status_reason = f"internal error: {exc!r}"
            log.exception("experiment %s failed inside hyperwatt", self.id)
        finally:
            try:
                self._record_background()
            finally:
                self._finish()
        return rec

    def _new_record(self) -> ExperimentRecord:
        pe, ctx = self.pe, self.ctx
        return ExperimentRecord(
            experiment_id=self.id, session_id=ctx.session_id, slot=pe.slot, label=pe.label,
            workload=pe.workload.name, mode=pe.mode, status="running", key=pe.key, key_hash=pe.key_hash,
            repeat_index=pe.repeat_index, mutated=list(pe.mutated),
            hyperparameters=pe.foreground.typed(), hyperparameter_args=pe.foreground.args(),
            argv=build_argv(pe.foreground, ctx.python), workdir=str(workdir(pe.foreground)),
            started_wall=ctx.clock.time(), environment={**ctx.environment, "slot": self.slot.label},
            plan_hash=ctx.plan_hash,
        )

    def _idle_baseline(self) -> dict[str, Any]:
        if self.ctx.monitor is None or self.timing.idle_baseline_s <= 0:
            return {}
        from hyperwatt.sensors import measure_idle

        self.ctx.check_interrupt()
        return measure_idle(self.ctx.monitor, self.timing.idle_baseline_s, self.ctx.clock)

    # background -------------------------------------------------------------------------------
    def _start_background(self) -> bool:
        """Start the loop and wait until it loads the GPU; False when the foreground must not run."""
        bg = self.pe.background
        assert bg is not None
        ctx = self.ctx
        min_run_s = self.min_run_s = self.policy.min_run_s or bg.workload.min_run_s or DEFAULT_MIN_RUN_S
        output_dir = self.layout.background_dir / "output"
        output_dir.mkdir(parents=True, exist_ok=True)
        argv = build_argv(bg, ctx.python, output_dir)
        self.record.background = BackgroundRecord(workload=bg.workload.name, hyperparameters=bg.typed(), argv=argv)
        self.loop = BackgroundLoop(
            argv, cwd=workdir(bg), env=build_env(bg, None, self.slot.gpu_index),
            log_dir=self.layout.background_dir, token=self._token("bg"),
            restart_delay_s=self.policy.restart_delay_s, min_run_s=min_run_s,
            crash_loop_runs=self.policy.crash_loop_runs, clock=ctx.clock, max_log_bytes=max_log_bytes(self.pe),
        )
        self.loop.start()
        readiness = wait_until_ready(ctx, self.slot, self.loop, self.policy, min_run_s)
        self.record.background.readiness = readiness
        if readiness.ready:
            self.record.background.alone = self._measure_background_alone()
        if readiness.ready or self.policy.on_ineffective == "warn":
            return True
        self.record.status = "invalid"
        self.record.status_reason = f"foreground not run: {readiness.reason}"
        return False

    def _measure_background_alone(self) -> BackgroundAlone | None:
        """The background alone on the GPU for `parallel.background_alone_s`: its mean power (from the
        energy counter, with its bound) for the marginal rule; the samples stay for its spread."""
        ctx, seconds = self.ctx, self.policy.background_alone_s
        if ctx.monitor is None or self.slot.gpu is None or seconds <= 0:
            return None
        assert self.loop is not None
        ctx.monitor.sample_now()
        t0, started = ctx.clock.monotonic(), ctx.clock.time()
        ctx.pause(seconds)
        t1 = ctx.clock.monotonic()
        ctx.monitor.sample_now()
        est = ctx.monitor.measure(t0, t1).get(self.slot.label)
        self.alone_span = (t0, t1)
        alone = BackgroundAlone(started_wall=started, duration_s=t1 - t0,
                                restarts=sum(1 for r in self.loop.runs if t0 < r.started_mono <= t1))
        if est is None or est.energy_j is None or est.partial:
            alone.reason = f"{self.slot.label}: " + ((est.reason if est else None) or "no energy figure for the window")
            return alone
        alone.energy_j, alone.energy_uncertainty_j = est.energy_j, est.uncertainty_j
        alone.power_w, alone.power_uncertainty_w = attribution_rules.alone_power(est.energy_j, est.uncertainty_j,
                                                                                 t1 - t0)
        alone.sample_count = est.sample_count
        if self.loop.ineffective:
            alone.reason = f"the background turned ineffective during its alone window: {self.loop.ineffective_reason}"
            alone.power_w = alone.power_uncertainty_w = None
        return alone

    def _stop_background(self) -> None:
        """Stop the background loop now (idempotent: later calls change nothing)."""
        if self.loop is None or self.stop_result is not None:
            return
        requested = self.ctx.clock.monotonic()
        self.stop_result = self.loop.stop(grace_s=self.policy.stop_grace_s)
        self.background_gone_mono = requested + self.stop_result.latency_s

    def _record_background(self) -> None:
        """Stop the background if still running, then record its runs, stop and coverage."""
        if self.loop is None:
            return
        self._stop_background()
        stop, bg = self.stop_result, self.record.background
        gone = self.background_gone_mono
        assert stop is not None and bg is not None and gone is not None
        last = self.record.attempts[-1] if self.record.attempts else None
        fg_ended = last is not None and last.duration_s is not None and self.window.t1_mono > self.window.t0_mono
        bg.stop = StopRecord(latency_s=stop.latency_s, escalated=stop.escalated, survivors=list(stop.survivors),
                             after_foreground_s=gone - self.window.t1_mono if fg_ended else None)
        readiness = bg.readiness
        startup_s = readiness.waited_s if readiness is not None and readiness.ready else 0.0
        runs = self.loop.runs
        min_run_s = self.min_run_s
        bg.runs = [
            BackgroundRunRecord(
                index=r.index, started_wall=r.started_wall, ended_wall=r.ended_wall, duration_s=r.duration_s,
                exit_code=r.exit_code, log=self.layout.relative(r.log_path), stopped_by_us=r.stopped_by_us,
                effective=r.stopped_by_us or (r.duration_s or 0.0) >= min_run_s, orphans=list(r.killed),
            )
            for r in runs
        ]
        bg.effective = not self.loop.ineffective and any(r.effective for r in bg.runs)
        bg.ineffective_reason = self.loop.ineffective_reason
        if self.record.attempts and self.window.t1_mono > self.window.t0_mono:
            spans = [(r.started_mono, r.ended_mono, rec.effective) for r, rec in zip(runs, bg.runs)]
            intervals = effective_intervals(spans, self.window.t1_mono, startup_s)
            bg.coverage = coverage((self.window.t0_mono, self.window.t1_mono), intervals)

    # foreground -------------------------------------------------------------------------------
    def _attempts(self) -> None:
        rec = self.record
        for number in range(1, self.timing.retries + 2):
            attempt = self._attempt(number)
            rec.attempts.append(attempt)
            self._save()
            if attempt.succeeded:
                rec.status = "succeeded"
                rec.metrics = attempt.metrics
                return
            if attempt.interrupted:
                raise Interrupted()
            if number > self.timing.retries:
                break
            if self.stop_result is not None:  # a clean exit stopped the background
                attempt.error = f"{attempt.error}; not retried: the exit was clean and its background is stopped"
                break
            self.ctx.pause(self.timing.retry_delay_s)
        rec.status = "failed"
        rec.status_reason = rec.attempts[-1].error or "training failed"

    def _attempt(self, number: int) -> Attempt:
        ctx, pe = self.ctx, self.pe
        log = self.layout.attempt_log(number)
        metrics_file = self.layout.metrics_file(number)
        output_dir = self.layout.output_dir(number)
        output_dir.mkdir(parents=True, exist_ok=True)
        files_since = time.time()  # the file system's clock: results files older than this are stale
        argv = build_argv(pe.foreground, ctx.python, output_dir)
        env = build_env(pe.foreground, metrics_file, self.slot.gpu_index)
        if ctx.monitor is not None:
            ctx.monitor.sample_now()
        attempt = Attempt(number=number, argv=argv, cwd=str(workdir(pe.foreground)),
                          log=self.layout.relative(log), started_wall=ctx.clock.time())
        try:
            handle = spawn(argv, cwd=workdir(pe.foreground), env=env, log_path=log,
                           token=self._token(f"a{number}"), echo=ctx.echo, clock=ctx.clock,
                           max_log_bytes=max_log_bytes(pe))
        except HyperwattError as exc:
            attempt.error = f"could not start: {exc}"
            if number > self.timing.retries:  # the last attempt: no foreground will need the background
                self._stop_background()
            return attempt
        self._track_cpu(handle)
        attempt.started_wall = handle.started_wall
        self.window = Window(t0_mono=handle.started_mono, t0_wall=handle.started_wall)
        code = self._wait(handle, attempt)
        if ctx.monitor is not None:
            ctx.monitor.sample_now()
        # a training that catches the timeout's SIGTERM and exits 0 did not finish cleanly
        clean = code in pe.workload.success_exit_codes and not attempt.timed_out and not attempt.interrupted
        if self.loop is not None and (clean or number > self.timing.retries or attempt.interrupted):
            # the foreground's last attempt has ended: the background stops now, not after the
            # measurement; a clean exit is final (no retry would have a background)
            self.watch.poll_util(self.window)
            self._stop_background()
        self._reap_orphans(handle, attempt)
        self.window.t1_mono = handle.ended_mono or ctx.clock.monotonic()
        self.window.t1_wall = handle.ended_wall or ctx.clock.time()
        attempt.ended_wall = self.window.t1_wall
        attempt.duration_s = self.window.t1_mono - self.window.t0_mono
        attempt.exit_code = code
        attempt.cpu_time_s = handle.cpu_time_s
        attempt.log_cut_bytes, attempt.log_error = handle.log_cut_bytes, handle.log_error
        self._measure(attempt)
        self._measure_phases(phases_mod.collect_markers(pe.workload.metrics, metrics_file, log, handle.log_times))
        own_files = metrics_mod.ResultsFiles(workdir(pe.foreground), placeholder_values(pe.foreground, output_dir),
                                             files_since)
        found = metrics_mod.collect(pe.workload.metrics, metrics_file, log, own_files)
        attempt.metrics, attempt.metric_matches = found.values, found.matches
        attempt.missing_metrics, attempt.metric_problems = found.missing, found.problems
        if attempt.timed_out:
            attempt.error = f"timed out after {attempt_timeout_s(pe) or 0:g} s; the whole process tree was killed"
        elif attempt.interrupted:
            attempt.error = "interrupted"
        elif not clean:
            tail = last_line(log)
            attempt.error = exit_status(code) + (f"; last log line: {tail[:200]!r}" if tail else "")
        elif found.missing:
            attempt.error = "required metrics missing: " + ", ".join(found.missing)
        attempt.succeeded = attempt.error is None
        return attempt

    def _wait(self, handle: ProcessHandle, attempt: Attempt) -> int | None:
        clock = self.ctx.clock
        timeout_s = attempt_timeout_s(self.pe)
        deadline = None if timeout_s is None else handle.started_mono + timeout_s
        next_pids = clock.monotonic()
        while True:
            code = handle.wait(timeout=POLL_S)
            if code is not None:
                return code
            now = clock.monotonic()
            if now >= next_pids:
                self._note_pids(handle)
                next_pids = now + PID_POLL_S
            if self.ctx.interrupt.is_set():
                attempt.interrupted = True
                handle.stop(grace_s=1.0)
                return handle.returncode
            if deadline is not None and now >= deadline:
                attempt.timed_out = True
                handle.stop(grace_s=2.0)
                return handle.returncode

    @staticmethod
    def _reap_orphans(handle: ProcessHandle, attempt: Attempt) -> None:
        """What the training left running when its main process exited: its guard killed and named
        it before exiting (daemons that left the session and the environment included); anything
        still carrying the token now is killed at once and named too, unless already exiting."""
        left = list(handle.killed)
        for pid in handle.pids():
            if exiting(pid):
                continue
            cmdline = command_line(pid)
            if cmdline is not None:
                left.append(f"pid {pid}: {cmdline[:200]}")
        if len(left) > len(handle.killed):
            handle.stop(grace_s=0.5)
        attempt.orphans = left

    def _note_pids(self, handle: ProcessHandle) -> None:
        self.window.fg_pids.update(handle.pids())
        if self.loop is not None:
            self.window.bg_pids.update(self.loop.live_pids())
            self.watch.poll_util(self.window)
        self.watch.note_strangers(self.window)

    def _track_cpu(self, handle: ProcessHandle) -> None:
        sensors = self.ctx.sensors.sensors if self.ctx.sensors is not None else []
        for sensor in sensors:
            if sensor.capabilities.process_tracking:  # a finished attempt's tree costs nothing to poll
                sensor.track(handle.running_pids)

    # measurement (engine/measurement.py) ----------------------------------------------------
    def _measure(self, attempt: Attempt) -> None:
        energy = measurement.window_energy(self.ctx, self.slot, self.window, self.baselines, attempt.cpu_time_s,
                                           stopping=self.stop_result is not None)
        if energy is None:
            return
        bg = self.record.background
        if self.pe.mode == "parallel" and bg is not None:
            measurement.attribute(self.ctx, self.slot, self.window, self.watch, bg, energy, self.alone_span,
                                  self.policy.interference_pct)
        self.record.energy = energy

    def _measure_phases(self, markers: tuple[list[PhaseMarker], list[str]]) -> None:
        phases = measurement.phase_energy(self.ctx, self.slot, self.window, self.baselines, markers,
                                          self.record.energy, stopping=self.stop_result is not None)
        if phases is not None:
            self.record.phases = phases

    # record (engine/recording.py) -----------------------------------------------------------
    def _finish(self) -> None:
        recording.finish(self.ctx, self.record, self.layout, self.tokens, self.policy)

    def add_cooldown(self, cooldown: Cooldown | None) -> None:
        """The session's cooldown after the record was written: recorded, its flags checked again
        (a cooldown that gave up is a `cooldown_not_reached` warning) and the record rewritten."""
        self.record.cooldown = cooldown
        checks.apply(self.record, self.policy)
        self._save()

    def _token(self, role: str) -> str:
        token = f"{self.token}-{role}"
        self.tokens.append(token)
        return token

    def _save(self) -> None:
        self.ctx.save(self.record)
