"""Session progress on the console: a live rich progress bar on a terminal, one plain line per event otherwise."""

from __future__ import annotations

import threading
import time
from typing import Sequence

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskID, TextColumn,
                           TimeElapsedColumn)
from rich.text import Text

from hyperwatt.console import Output, stderr_line
from hyperwatt.errors import one_line
from hyperwatt.engine import SessionEvents, Slot
from hyperwatt.engine.eta import Estimator, Eta, fmt_duration
from hyperwatt.mutation import PlannedExperiment
from hyperwatt.records import ExperimentRecord

__all__ = ["ConsoleEvents", "describe", "experiment_line", "fmt_duration", "fmt_energy", "total_energy"]

STATUS_STYLE = {"succeeded": "green", "failed": "red", "invalid": "bold red", "interrupted": "yellow"}


def fmt_energy(joules: float | None) -> str:
    if joules is None:
        return "—"
    return f"{joules / 1000:.1f} kJ" if abs(joules) >= 100_000 else f"{joules:.0f} J"


def total_energy(record: ExperimentRecord) -> tuple[float | None, float]:
    """The experiment's energy (the record's total, else GPU + CPU as measured) and its uncertainty."""
    e = record.energy
    parts = [j for j in (e.gpu_energy_j, e.cpu_energy_j) if j is not None]
    total = e.total_energy_j if e.total_energy_j is not None else (sum(parts) if parts else None)
    return total, sum(u for u in (e.gpu_uncertainty_j, e.cpu_uncertainty_j) if u is not None)


def describe(record: ExperimentRecord) -> str:
    """Status, duration, energy±uncertainty, then per-sensor energy, every metric, coverage and the reason."""
    e = record.energy
    head = [record.status, f"{record.duration_s:.1f} s" if record.duration_s is not None else "— s"]
    total, unc = total_energy(record)
    if total is not None:
        head.append(f"{total:.0f}±{unc:.0f} J")
    parts = [" ".join(head)]
    sensors = []
    if e.gpu_energy_j is not None:
        sensors.append(f"GPU {e.gpu_energy_j:.0f}±{e.gpu_uncertainty_j or 0:.0f} J")
    if e.cpu_energy_j is not None:
        sensors.append(f"CPU {e.cpu_energy_j:.0f} J ({e.cpu_method})")
    if sensors:
        parts.append(", ".join(sensors))
    missing = record.attempts[-1].missing_metrics if record.attempts else []
    metrics = [f"{k}={v:.4g}" for k, v in sorted(record.metrics.items())]
    metrics += [f"{k}=missing" for k in missing if k not in record.metrics]
    if metrics:
        parts.append(" ".join(metrics))
    if record.background is not None and record.background.coverage is not None:
        parts.append(f"coverage {record.background.coverage:.1%}")
    if record.status_reason and record.status != "succeeded":
        parts.append(" ".join(record.status_reason.split()))
    return one_line(" | ".join(parts))  # a metric's name is whatever the training wrote (a newline too)


def _args(mutated: Sequence[str], args: dict[str, str], label: str) -> str:
    return " ".join(f"{k}={v}" for k, v in args.items() if k in mutated) or label


def experiment_line(record: ExperimentRecord, total: int) -> str:
    """`[3/17] pytorch_examples/mnist lr=0.74 succeeded 9.1 s 841±1 J | …`"""
    args = _args(record.mutated, record.hyperparameter_args, record.label)
    return f"[{record.slot + 1}/{total}] {record.workload} {args} {describe(record)}"


class _Live(ProgressColumn):
    """Running count, ETA (counting down between events) and energy so far."""

    def __init__(self, events: ConsoleEvents) -> None:
        super().__init__()
        self.events = events

    def render(self, task: object) -> Text:
        ev = self.events
        return Text(f"{len(ev.started)} running · ETA {ev.eta().text()} · {fmt_energy(ev.energy_j)} so far")


class ConsoleEvents(SessionEvents):
    def __init__(self, out: Output, estimator: Estimator, quiet: bool = False) -> None:
        self.out = out
        self.estimator = estimator
        self.quiet = quiet
        self.live = out.terminal and not quiet and not out.console.is_dumb_terminal
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.total = 0
        self.energy_j = 0.0
        self.pending: dict[int, PlannedExperiment] = {}
        self.started: dict[int, tuple[PlannedExperiment, float]] = {}
        self.slots = 1
        #: the live bar redraws from its own thread while slots start and finish experiments
        self._lock = threading.Lock()
        self.noted: set[tuple[str, str]] = set()  # (workload, metric or problem) already reported

    def __enter__(self) -> ConsoleEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def eta(self) -> Eta:
        """Remaining wall time: pending experiments and what is left of the running ones."""
        with self._lock:
            return self._eta()

    def _eta(self) -> Eta:
        now = time.monotonic()  # under the lock; the estimator keeps its predictions until the next observation
        running = [(pe, now - start) for pe, start in self.started.values()]
        return self.estimator.remaining(list(self.pending.values()), running, self.slots)

    def planned(self, session_id: str, total: int, skipped: int, pending: list[PlannedExperiment]) -> None:
        self.pending = {pe.slot: pe for pe in pending}
        self.total = total
        self.say(f"session {session_id}: {total} planned, {skipped} already done, {len(pending)} to run "
                 f"(ETA {self.eta().text()})")
        if self.live and pending:
            self.progress = Progress(
                TextColumn("[bold]experiments"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                _Live(self), console=self.out.console, refresh_per_second=2,
            )
            self.task = self.progress.add_task("experiments", total=len(pending))
            self.progress.start()

    def experiment_started(self, pe: PlannedExperiment, slot: Slot) -> None:
        with self._lock:
            self.pending.pop(pe.slot, None)
            self.started[pe.slot] = (pe, time.monotonic())
            self.slots = max(self.slots, len(self.started))
        bg = f" with background {pe.background.workload.name}" if pe.background else ""
        self.say(f"[{pe.slot + 1}/{self.total}] {pe.workload.name} {_args(pe.mutated, pe.foreground.args(), pe.label)} "
                 f"started on {slot.label}{bg}", style="dim")

    def experiment_finished(self, record: ExperimentRecord) -> None:
        with self._lock:
            pe, start = self.started.pop(record.slot, (None, None))
            self.pending.pop(record.slot, None)
            if pe is not None and start is not None:
                self.estimator.observe(pe, record.duration_s if record.status in ("succeeded", "invalid") else None,
                                       time.monotonic() - start, record.environment.get("prepare", []))
            self.energy_j += total_energy(record)[0] or 0.0
        line = experiment_line(record, self.total)
        if not self.live and (self.pending or self.started):  # a log has no live bar: the ETA goes on the line
            line += f" | ETA {self.eta().text()}"
        self.say(line, style=STATUS_STYLE.get(record.status, ""))
        for note in self._metric_notes(record):
            self.say(f"[{record.slot + 1}/{self.total}] note: {note}", style="yellow")
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1)

    def _metric_notes(self, record: ExperimentRecord) -> list[str]:
        """Log patterns that matched nothing and unreadable values, once per workload and metric:
        a typo in a pattern otherwise goes unnoticed unless the metric is required."""
        attempt = record.attempts[-1] if record.attempts else None
        if attempt is None or attempt.exit_code != 0 or attempt.interrupted or attempt.timed_out:
            return []  # a training that did not finish says nothing about its patterns
        notes = []
        silent = sorted(n for n, count in attempt.metric_matches.items()
                        if count == 0 and n not in attempt.metrics and (record.workload, n) not in self.noted)
        if silent:
            self.noted.update((record.workload, n) for n in silent)
            notes.append(f"no match in {record.experiment_id}/{attempt.log} for the pattern(s) of {', '.join(silent)} "
                         f"(reported once per workload)")
        problems = [p for p in attempt.metric_problems if (record.workload, p) not in self.noted]
        if problems:
            self.noted.update((record.workload, p) for p in problems)
            more = f" (+{len(problems) - 3} more in experiment.json)" if len(problems) > 3 else ""
            notes.append("metric problems: " + "; ".join(problems[:3]) + more)
        return notes

    def message(self, text: str) -> None:
        self.say(f"note: {text}", style="yellow", always=True)

    def say(self, text: str, style: str = "", always: bool = False) -> None:
        """A line above the live bar; without one, on stdout (warnings that must be seen on stderr)."""
        if self.quiet and not always:
            return
        if self.progress is not None:
            self.progress.console.print(text, style=style or None, highlight=False, markup=False, soft_wrap=True)
        elif always and not self.out.terminal:
            stderr_line(text)
        else:
            self.out.line(text, style=style or None)
