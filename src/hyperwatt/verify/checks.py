"""Validity checks on one experiment record. Pure functions: they read records and run nothing."""

from __future__ import annotations

import math

from hyperwatt import attribution as rules
from hyperwatt.config import ParallelPolicy
from hyperwatt.records import BackgroundRecord, ExperimentRecord, Flag
from hyperwatt.verify.verdicts import STOP_ERROR_S, UNFINISHED, window_measured

#: A background outliving its foreground by more than this is worth a warning (target: p99 <= 100 ms).
STOP_WARN_S = 0.1
#: A sampling gap longer than this makes the energy figure suspect.
GAP_WARN_S = 1.0


def check(record: ExperimentRecord, policy: ParallelPolicy) -> list[Flag]:
    flags: list[Flag] = []
    if record.status == "failed":
        last = record.attempts[-1] if record.attempts else None
        why = record.status_reason or (last.error if last else "") or "training failed"
        flags.append(Flag(code="foreground_failed", severity="error", message=why,
                          fix="read attempt-*/training.log; fix the workload or its hyperparameters"))
    if record.leaks:
        flags.append(Flag(code="process_leak", severity="error",
                          message=f"{len(record.leaks)} process(es) survived the experiment: "
                          + "; ".join(record.leaks[:3]),
                          fix="the leaked processes were killed; check the workload for daemons it starts"))
    if record.gpu_shared_with:
        flags.append(Flag(code="gpu_shared", severity="error",
                          message=f"{len(record.gpu_shared_with)} foreign process(es) computed on the experiment's "
                          "GPU while it ran: " + "; ".join(record.gpu_shared_with[:3]),
                          fix="give hyperwatt GPUs nothing else uses (--gpus, sensors.gpus); preflight checks only "
                          "before the first training"))
    orphans = [o for a in record.attempts for o in a.orphans]
    if record.background is not None:
        orphans += [f"background run {r.index}: {o}" for r in record.background.runs for o in r.orphans]
    if orphans:
        flags.append(Flag(code="orphan_processes", severity="warning",
                          message=f"the training left {len(orphans)} process(es) running at exit (killed): "
                          + "; ".join(orphans[:3]),
                          fix="make the training wait for (or stop) the processes it starts"))
    broken = [f"attempt {a.number}: {a.log_error}" for a in record.attempts if a.log_error]
    if broken:
        flags.append(Flag(code="log_incomplete", severity="warning", message="; ".join(broken),
                          fix="free space where the results live; metrics read from the log may be missing"))
    odd = {k: v for k, v in sorted(record.metrics.items()) if not math.isfinite(v)}
    if odd:
        flags.append(Flag(code="metric_not_finite", severity="warning",
                          message="metric(s) not finite (kept as written): "
                          + ", ".join(f"{k}={'NaN' if math.isnan(v) else 'Infinity' if v > 0 else '-Infinity'}" for k, v in odd.items()),
                          fix="the training diverged or wrote a number beyond a float's range; read its log"))
    flags += _energy_flags(record)
    if record.mode == "parallel":
        flags += _background_flags(record, policy)
        flags += _attribution_flags(record)
    if record.cooldown is not None and not record.cooldown.reached:
        flags.append(Flag(code="cooldown_not_reached", severity="warning", message=record.cooldown.reason,
                          fix="raise timing.cooldown.max_s or the tolerances; the next experiment started warm"))
    return flags


def _energy_flags(record: ExperimentRecord) -> list[Flag]:
    e = record.energy
    out: list[Flag] = []
    if record.status in ("interrupted", "pending", "running") or not any(a.duration_s for a in record.attempts):
        return out  # nothing ran to be measured (e.g. a background found ineffective first)
    if e.sampler_error:
        out.append(Flag(code="sampler_died", severity="error",
                        message=f"the sensor sampler thread died: {e.sampler_error}; only the edge reads remain, "
                                "so gaps, power timeline and readiness samples are missing",
                        fix="report it with the session's log; then rerun the experiment"))
    if not e.available:
        out.append(Flag(code="energy_unavailable", severity="warning", message=e.reason or "no energy figure",
                        fix="run `hyperwatt doctor` to see which sensors are missing and why"))
        return out
    if e.partial:
        reasons = "; ".join(f"{s.sensor}: {s.reason}" for s in e.sensors if s.partial and s.reason)
        out.append(Flag(code="energy_partial", severity="warning", message=reasons or "a sensor failed mid-window",
                        fix="check the sensor (driver, permissions); the figure covers only what was read"))
    gaps = [s for s in e.sensors if s.max_gap_s is not None and s.max_gap_s > GAP_WARN_S]
    if gaps:
        worst = max(gaps, key=lambda s: s.max_gap_s or 0)
        out.append(Flag(code="sampling_gap", severity="warning",
                        message=f"{worst.sensor}: a {worst.max_gap_s:.2f} s gap between samples",
                        fix="the machine was overloaded; lower sensors.rate_hz or free a CPU core"))
    return out


def _background_flags(record: ExperimentRecord, policy: ParallelPolicy) -> list[Flag]:
    bg = record.background
    if bg is None:
        if record.status in UNFINISHED:
            return []  # interrupted before its background started
        return [Flag(code="background_missing", severity="error", message="parallel experiment without a background record")]
    out: list[Flag] = []
    if record.status in UNFINISHED:
        pass  # interrupted: neither effectiveness nor coverage was measured (verify/verdicts.py)
    elif not bg.effective:
        out.append(Flag(code="background_ineffective", severity="error",
                        message=bg.ineffective_reason or "the background never loaded the GPU",
                        fix=f"run `{bg.workload}` alone and read background/run-1.log; replace or fix it"))
    elif bg.readiness is None or not bg.readiness.ready:
        out.append(Flag(code="background_not_ready", severity="error",
                        message=bg.readiness.reason if bg.readiness else "the readiness gate never ran",
                        fix="raise parallel.readiness_timeout_s or lower parallel.util_threshold_pct"))
    elif window_measured(record) and bg.mean_gpu_util_pct is not None \
            and bg.mean_gpu_util_pct < policy.util_threshold_pct:
        out.append(Flag(code="background_low_load", severity="error",
                        message=f"GPU utilisation averaged {bg.mean_gpu_util_pct:.1f}% during the foreground "
                                f"(threshold {policy.util_threshold_pct:g}%): the background did not really load the GPU",
                        fix="give the background more work per step (a larger batch_size) or a heavier workload"))
    if window_measured(record) and bg.coverage is not None and bg.coverage < policy.min_coverage:
        out.append(Flag(code="low_coverage", severity="error",
                        message=f"background load covered {bg.coverage:.1%} of the foreground window "
                                f"(needs {policy.min_coverage:.0%})",
                        fix=_coverage_fix(bg)))
    if bg.stop is not None:
        if bg.stop.survivors:
            out.append(Flag(code="background_survived_stop", severity="error",
                            message=f"pids {bg.stop.survivors} survived the stop",
                            fix="a process ignores SIGKILL (uninterruptible I/O?); check the host"))
        delay = bg.stop.delay_s
        said = (f"background was gone {delay * 1000:.0f} ms after the foreground's exit "
                f"(the stop itself {bg.stop.latency_s * 1000:.0f} ms)")
        if delay > STOP_ERROR_S:
            out.append(Flag(code="slow_stop", severity="error", message=said, fix="lower parallel.stop_grace_s"))
        elif delay > STOP_WARN_S:
            out.append(Flag(code="slow_stop", severity="warning", message=said))
    return out


def _attribution_flags(record: ExperimentRecord) -> list[Flag]:
    """A marginal energy whose interval leaves [0, device energy] (a warning: the device total
    stays valid; the background's alone power did not stand for it during the window, even with
    the interference allowance)."""
    a = record.energy.attribution
    if a is None or a.foreground_marginal_energy_j is None or a.device_energy_j is None:
        return []
    value, unc = a.foreground_marginal_energy_j, a.foreground_marginal_uncertainty_j
    if rules.marginal_verdict(value, unc, a.device_energy_j, a.device_uncertainty_j) != "outside physical limits":
        return []
    side = "below 0" if value < 0 else "above the device's energy"
    allowance = a.background_interference_pct or 0.0
    return [Flag(code="marginal_out_of_range", severity="warning",
                 message=f"the foreground's marginal energy {value:.1f} ± {unc or 0:.1f} J is {side} beyond its "
                         f"uncertainty: the background alone drew {a.background_alone_power_w or 0:.1f} W "
                         f"({a.background_alone_source}), and sharing the GPU changed its draw by more than the "
                         f"{allowance:g} % allowed; the device total stands, the marginal does not",
                 fix="raise parallel.interference_pct (benchmarks/attribution.py measures it for a pair), or "
                     "lengthen parallel.background_alone_s if the background has phases its alone window missed")]


def recheck(record: ExperimentRecord, policy: ParallelPolicy) -> bool:
    """Re-derive flags and status with today's rules (for `hyperwatt verify`); True if anything changed.

    Only an experiment whose foreground succeeded moves between `succeeded` and `invalid`."""
    before = (record.status, [f.code for f in record.flags])
    restated = _restate_marginal(record, policy.interference_pct)
    if record.status == "invalid" and any(a.succeeded for a in record.attempts):
        record.status, record.status_reason = "succeeded", ""
    apply(record, policy)
    return restated or (record.status, [f.code for f in record.flags]) != before


def _restate_marginal(record: ExperimentRecord, interference_pct: float) -> bool:
    """A marginal whose bound was stated with another interference allowance (or none: a record
    written before it existed) restated with today's rule from its own recorded inputs."""
    a = record.energy.attribution
    if (a is None or a.foreground_marginal_energy_j is None or a.device_energy_j is None
            or a.background_alone_power_w is None or a.background_interference_pct == interference_pct):
        return False
    duration = record.energy.gpu_window_s
    if duration is None:
        return False
    value, unc = rules.marginal(a.device_energy_j, a.device_uncertainty_j, duration, a.background_alone_power_w,
                                a.background_alone_uncertainty_w, a.background_alone_spread_w, interference_pct)
    a.foreground_marginal_energy_j, a.foreground_marginal_uncertainty_j = value, unc
    a.foreground_marginal_verdict = rules.marginal_verdict(value, unc, a.device_energy_j, a.device_uncertainty_j)
    a.background_interference_pct = interference_pct
    return True


def apply(record: ExperimentRecord, policy: ParallelPolicy) -> None:
    """Attach the flags; a succeeded experiment with an error flag becomes `invalid`."""
    record.flags = check(record, policy)
    errors = [f for f in record.flags if f.severity == "error" and f.code != "foreground_failed"]
    if record.status == "succeeded" and errors:
        record.status = "invalid"
        record.status_reason = "; ".join(f.message for f in errors)


def _coverage_fix(bg: BackgroundRecord) -> str:
    """Why coverage fell short, where the runs tell: a background that finishes (exit 0) and restarts
    loses each restart's start-up, counted as long as the readiness wait; a tiny one never loads at all."""
    finished = [r.duration_s for r in bg.runs if not r.stopped_by_us and r.exit_code == 0 and r.duration_s is not None]
    if not finished:
        return "the background crashed or restarted during the foreground; see background/run-*.log"
    startup = bg.readiness.waited_s if bg.readiness is not None and bg.readiness.ready else 0.0
    return (f"the background finished and restarted {len(finished)} time(s) (its runs took "
            f"{min(finished):.1f}–{max(finished):.1f} s) and the first {startup:.1f} s of each run (its start-up, "
            "as long as the readiness wait) count as no load: give the background more epochs or a larger size, "
            "so that one run outlasts the foreground; see background/run-*.log")
