"""One experiment, start to finish: baseline, background, readiness, measured foreground, stop,
verification, record. Cooldown is the session's step after the record is written; `add_cooldown`
checks the record again with it and rewrites it."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any, Literal

from hyperwatt import attribution as attribution_rules
from hyperwatt import metrics as metrics_mod
from hyperwatt.engine import energy as energy_mod
from hyperwatt.engine import phases as phases_mod
from hyperwatt.engine import prepare as prepare_mod
from hyperwatt.engine.command import build_argv, build_env, placeholder_values, workdir
from hyperwatt.engine.context import EngineContext, Interrupted, Slot
from hyperwatt.engine.limits import attempt_timeout_s, max_log_bytes
from hyperwatt.engine.readiness import wait_until_ready
from hyperwatt.errors import HyperwattError
from hyperwatt.mutation import PlannedExperiment
from hyperwatt.process import (
    BackgroundLoop,
    ProcessHandle,
    StopResult,
    kill_tagged,
    last_line,
    leak_scan,
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
from hyperwatt.sensors.records import ProcessUtil
from hyperwatt.store import (
    ExperimentLayout,
    SessionLayout,
    Store,
    write_experiment_json,
)
from hyperwatt.store.diskfull import is_disk_full
from hyperwatt.verify import checks
from hyperwatt.verify.coverage import coverage, effective_intervals

log = logging.getLogger(__name__)
POLL_S = 0.05
PID_POLL_S = 1.0
DEFAULT_MIN_RUN_S = 10.0


def new_experiment_id(pe: PlannedExperiment) -> str:
    w = pe.workload
    return f"{w.repo}_{w.model}_{pe.slot + 1:03d}_{pe.mode}_{uuid.uuid4().hex[:6]}"


@dataclass
class _Window:
    """The measured foreground window and the pids seen in it (for utilisation shares)."""

    t0_mono: float = 0.0
    t1_mono: float = 0.0
    t0_wall: float = 0.0
    t1_wall: float = 0.0
    fg_pids: set[int] = field(default_factory=set)
    bg_pids: set[int] = field(default_factory=set)
    # NVML's per-process samples, by (pid, time): the driver keeps only a few seconds, so they are
    # collected as the window runs
    process_util: dict[tuple[int, float], float] = field(default_factory=dict)

    def add_process_samples(self, samples: list[ProcessUtil]) -> None:
        for s in samples:
            if self.t0_wall <= s.t_wall and (not self.t1_wall or s.t_wall <= self.t1_wall):
                self.process_util[(s.pid, s.t_wall)] = s.sm_util_pct

    def util_sums(self) -> tuple[float, float, bool]:
        """Summed SM utilisation of the foreground's and the background's pids, and whether both
        sides appeared in the samples at all."""
        fg = sum(u for (pid, _), u in self.process_util.items() if pid in self.fg_pids)
        bg = sum(u for (pid, _), u in self.process_util.items() if pid in self.bg_pids)
        seen = {pid for pid, _ in self.process_util}
        return fg, bg, bool(seen & self.fg_pids) and bool(seen & self.bg_pids)


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
        self.window = _Window()
        self.alone_span: tuple[float, float] | None = None  # monotonic span of the background-alone window
        self.record = self._new_record()

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
        self.window = _Window(t0_mono=handle.started_mono, t0_wall=handle.started_wall)
        code = self._wait(handle, attempt)
        if ctx.monitor is not None:
            ctx.monitor.sample_now()
        # a training that catches the timeout's SIGTERM and exits 0 did not finish cleanly
        clean = code in pe.workload.success_exit_codes and not attempt.timed_out and not attempt.interrupted
        if self.loop is not None and (clean or number > self.timing.retries or attempt.interrupted):
            # the foreground's last attempt has ended: the background stops now, not after the
            # measurement; a clean exit is final (no retry would have a background)
            self._poll_process_util()
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
            attempt.error = f"exit code {code}" + (f"; last log line: {tail[:200]!r}" if tail else "")
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
            self._poll_process_util()
        self._note_strangers()

    def _note_strangers(self) -> None:
        """Compute processes on this experiment's GPU that are not its own: the GPU's energy would
        include theirs. A pid this host cannot see (NVML in another PID namespace) proves nothing."""
        gpu = self.slot.gpu
        if gpu is None or not gpu.capabilities.process_list:
            return
        ours = self.window.fg_pids | self.window.bg_pids
        for proc in gpu.processes():
            if proc.pid in ours or any(s.startswith(f"pid {proc.pid}:") for s in self.record.gpu_shared_with):
                continue
            cmdline = command_line(proc.pid)
            if cmdline is not None:
                self.record.gpu_shared_with.append(f"pid {proc.pid}: {cmdline[:200]}")

    def _poll_process_util(self) -> None:
        if self.slot.gpu is not None:
            self.window.add_process_samples(self.slot.gpu.process_samples(self.window.t0_wall))

    def _track_cpu(self, handle: ProcessHandle) -> None:
        sensors = self.ctx.sensors.sensors if self.ctx.sensors is not None else []
        for sensor in sensors:
            if sensor.capabilities.process_tracking:  # a finished attempt's tree costs nothing to poll
                sensor.track(handle.running_pids)

    # measurement ------------------------------------------------------------------------------
    def _measure(self, attempt: Attempt) -> None:
        ctx, w = self.ctx, self.window
        if ctx.monitor is None or ctx.sensors is None:
            return
        # a background being stopped outlives the window by tens of ms: the end edge's level is
        # read inside the window, not after it
        end_level: Literal["inside", "after"] = "inside" if self.stop_result is not None else "after"
        estimates = ctx.monitor.measure(w.t0_mono, w.t1_mono, end_level=end_level)
        for sensor in ctx.sensors.sensors:
            if attempt.cpu_time_s is not None and sensor.capabilities.cpu_time_windows:
                estimates[sensor.name] = sensor.window_from_cpu_time(attempt.cpu_time_s, w.t1_mono - w.t0_mono,
                                                                     estimates[sensor.name])
        devices = {s.info.name: s.info.device for s in ctx.sensors.sensors}
        unavailable = {u.name: u.reason for u in ctx.sensors.unavailable}
        energy = energy_mod.energy_record(estimates, devices, self.baselines, self.slot.gpu_index,
                                          unavailable, (w.t0_wall, w.t1_wall))
        energy.sampler_error = ctx.monitor.thread_error
        if self.pe.mode == "parallel" and self.record.background is not None:
            self._attribute(energy)
        self.record.energy = energy

    def _measure_phases(self, markers: tuple[list[PhaseMarker], list[str]]) -> None:
        """The window's energy per phase of the training (engine/phases.py)."""
        if self.ctx.monitor is None:
            return
        w = self.window
        slicers = self.ctx.monitor.slicers(w.t0_mono, w.t1_mono, end_level="inside" if self.stop_result else "after")
        recorded = {s.sensor: s.energy_j for s in self.record.energy.sensors}
        self.record.phases = phases_mod.measure_phases(*markers, phases_mod.Window(w.t0_mono, w.t1_mono, w.t0_wall),
                                                       slicers, recorded, self.baselines, self.slot.gpu_index)

    def _attribute(self, energy: Any) -> None:
        bg = self.record.background
        assert bg is not None
        share = None
        if self.slot.gpu is not None:
            self._poll_process_util()
            fg, back, seen_both = self.window.util_sums()
            if seen_both and fg + back > 0:  # otherwise unknown, not 0 % / 100 %
                share = fg / (fg + back)
                bg.gpu_util_share = back / (fg + back)
            samples = (self.ctx.monitor.samples(self.slot.label, self.window.t0_mono, self.window.t1_mono)
                       if self.ctx.monitor is not None else [])
            utils = [s.util_pct for s in samples if s.util_pct is not None]
            bg.mean_gpu_util_pct = fmean(utils) if utils else None
        spread = None
        if bg.alone is not None and bg.alone.power_w is not None and self.alone_span is not None \
                and self.ctx.monitor is not None:
            t0, t1 = self.alone_span
            powers = [(x.t_mono, x.power_w) for x in self.ctx.monitor.samples(self.slot.label, t0, t1)
                      if x.power_w is not None]
            length = min(self.window.t1_mono - self.window.t0_mono, (t1 - t0) / 2)
            spread = attribution_rules.power_spread_w(powers, length)
        energy.attribution = energy_mod.attribution(energy, bg.alone, spread, share)

    # record -----------------------------------------------------------------------------------
    def _finish(self) -> None:
        rec, ctx = self.record, self.ctx
        leaks = leak_scan(self.tokens)
        rec.leaks = [f"pid {leak.pid}: {leak.cmdline}" for leak in leaks]
        for leak_token in {leak.token for leak in leaks}:
            kill_tagged(leak_token, grace_s=0.5)
        rec.ended_wall = ctx.clock.time()
        done = [a for a in rec.attempts if a.duration_s is not None]
        rec.duration_s = done[-1].duration_s if done else None
        if done:
            rec.argv = done[-1].argv
        if ctx.monitor is not None:
            from hyperwatt.store.timeline import write_timeline_csv

            started = rec.started_wall or rec.ended_wall
            span = rec.ended_wall - started
            t_end = ctx.clock.monotonic()
            samples = ctx.monitor.samples(None, t_end - span - 1.0, t_end)
            write_timeline_csv(self.layout.timeline, samples)
            rec.energy.timeline = self.layout.relative(self.layout.timeline)
        energy_mod.settle_unmeasured(rec, ctx.monitor is not None)
        checks.apply(rec, self.policy)
        self._save()

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


def save_record(layout: SessionLayout, store: Store, record: ExperimentRecord) -> None:
    """experiment.json (atomic) first, then the store row (one transaction)."""
    write_experiment_json(layout.experiment(record.experiment_id), record)
    store.save_experiment(record)


def tokens_of(record: ExperimentRecord) -> list[str]:
    """Every process token an experiment may have handed out (for cleaning up after a crash)."""
    base = f"hw-{record.experiment_id}"
    # the attempt in flight when the runner died is not in the record yet
    return [f"{base}-bg"] + [f"{base}-a{n}" for n in range(1, len(record.attempts) + 2)]
