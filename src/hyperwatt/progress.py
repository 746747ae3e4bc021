"""Session progress on the console: a rich progress bar on a TTY, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Callable, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from hyperwatt.engine import SessionEvents, Slot
from hyperwatt.engine.eta import remaining_s
from hyperwatt.mutation import PlannedExperiment
from hyperwatt.records import ExperimentRecord

STATUS_STYLE = {"succeeded": "green", "failed": "red", "invalid": "bold red", "interrupted": "yellow"}


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def describe(record: ExperimentRecord) -> str:
    e = record.energy
    parts = [f"{record.status}", f"{record.duration_s:.1f} s" if record.duration_s is not None else "—"]
    if e.gpu_energy_j is not None:
        parts.append(f"GPU {e.gpu_energy_j:.0f}±{e.gpu_uncertainty_j or 0:.0f} J")
    if e.cpu_energy_j is not None:
        parts.append(f"CPU {e.cpu_energy_j:.0f} J ({e.cpu_method})")
    if record.metrics:
        parts.append(", ".join(f"{k}={v:.4g}" for k, v in sorted(record.metrics.items())[:3]))
    if record.background is not None and record.background.coverage is not None:
        parts.append(f"coverage {record.background.coverage:.1%}")
    if record.status_reason and record.status != "succeeded":
        parts.append(record.status_reason[:160])
    return " | ".join(parts)


class ConsoleEvents(SessionEvents):
    def __init__(self, console: Console, history: Callable[[str], Sequence[float]], quiet: bool = False) -> None:
        self.console = console
        self.history = history
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.pending: list[PlannedExperiment] = []
        self.durations: list[float] = []
        self.started: dict[int, float] = {}
        self.total = 0
        self.noted: set[tuple[str, str]] = set()  # (workload, metric or problem) already reported

    def __enter__(self) -> ConsoleEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def planned(self, session_id: str, total: int, skipped: int, pending: list[PlannedExperiment]) -> None:
        self.pending = list(pending)
        self.total = len(pending)
        eta = remaining_s(self.pending, [], self.history)
        self.say(f"session {session_id}: {total} planned, {skipped} already done, {len(pending)} to run "
                 f"(ETA {fmt_duration(eta)})")
        if self.live and pending:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"), console=self.console,
            )
            self.task = self.progress.add_task("experiments", total=len(pending), eta=fmt_duration(eta))
            self.progress.start()

    def experiment_started(self, pe: PlannedExperiment, slot: Slot) -> None:
        self.started[pe.slot] = time.monotonic()
        args = " ".join(f"{k}={v}" for k, v in pe.foreground.args().items() if k in pe.mutated) or pe.label
        bg = f" with background {pe.background.workload.name}" if pe.background else ""
        self.say(f"[{pe.slot + 1}] {pe.workload.name} ({args}){bg} on {slot.label}", style="dim")

    def experiment_finished(self, record: ExperimentRecord) -> None:
        start = self.started.pop(record.slot, None)
        if start is not None:
            self.durations.append(time.monotonic() - start)
        self.pending = [p for p in self.pending if p.slot != record.slot]
        style = STATUS_STYLE.get(record.status, "")
        self.say(f"[{record.slot + 1}] {record.workload}: {describe(record)}", style=style)
        for note in self._metric_notes(record):
            self.say(f"[{record.slot + 1}] note: {note}", style="yellow")
        if self.progress is not None and self.task is not None:
            eta = remaining_s(self.pending, self.durations, self.history)
            self.progress.update(self.task, advance=1, eta=fmt_duration(eta))

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
        if self.quiet and not always:
            return
        if self.live:
            self.console.print(text, style=style or None, highlight=False, markup=False)
        else:
            print(text, file=sys.stdout if not always else sys.stderr, flush=True)
