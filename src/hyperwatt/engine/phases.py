"""Phases of a measured window: the training's markers, and the window's energy sliced at them.

Markers come from the metrics file's phase events (the training's own clock readings) or, for a
training that writes none, from the workload's `metrics.phases` log patterns (a matching line
starts its phase when it arrived). Each marker starts a phase that lasts until the next one or the
window's end; the time before the first marker is `startup`. The slices are measured with
`sensors.slices`: they add up to the window's energy, each with its own bound, and each phase's
slices together (`totals`) have one bound per contiguous run of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from hyperwatt import logscan, metricsfile
from hyperwatt.config import MetricsSpec
from hyperwatt.metrics import _ANSI
from hyperwatt.process.logstream import LogTimes
from hyperwatt.records import PhaseEnergy, PhaseMarker, Phases, PhaseSensorEnergy
from hyperwatt.sensors.slices import SliceEnergy, WindowSlicer

STARTUP = "startup"
TRAIN = "train"
#: A marker this far before the window start is a clock mismatch (dropped); closer, it starts with the window.
EARLY_TOLERANCE_S = 1.0
MAX_LOG_BYTES = 64 * 2**20  # only the head of a larger log is searched for phase lines
MAX_SLICES = 2000  # a training marking every step would make a record of megabytes
NO_MARKERS = ("no phase markers: the training wrote no phase events to its metrics file "
              "and the workload declares no metrics.phases log patterns")


@dataclass(frozen=True)
class Window:
    t0_mono: float
    t1_mono: float
    t0_wall: float

    def mono(self, t_wall: float) -> float:
        return self.t0_mono + (t_wall - self.t0_wall)


def collect_markers(spec: MetricsSpec, metrics_file: Path | None, log: Path, times: LogTimes | None
                    ) -> tuple[list[PhaseMarker], list[str]]:
    """The metrics file's phase events when it has any, else the log patterns' markers; with problems."""
    problems: list[str] = []
    if metrics_file is not None:
        events, problems = metricsfile.read_phases(metrics_file)
        if events:
            return [PhaseMarker(phase=e.phase, t_wall=e.t_wall, epoch=e.epoch, samples=e.samples,
                                source="metrics-file") for e in events], problems
    if spec.phases and times is not None:
        found, more = log_markers(spec, log, times)
        return found, problems + more
    return [], problems


def log_markers(spec: MetricsSpec, log: Path, times: LogTimes) -> tuple[list[PhaseMarker], list[str]]:
    """A marker at each log line that enters another phase (or, with an epoch group, another epoch)."""
    try:
        with log.open("rb") as fh:
            raw = fh.read(MAX_LOG_BYTES)
    except OSError as exc:
        return [], [f"phase patterns: cannot read {log.name}: {exc.strerror}"]
    lines, ends = [], []  # a line as a terminal shows it (\r breaks it too), and the offset of its last byte
    offset = 0
    for piece in raw.split(b"\n"):
        for part in piece.split(b"\r"):
            lines.append(_ANSI.sub("", part.decode("utf-8", errors="replace")))
            offset += len(part) + 1
            ends.append(offset - 1)  # the line break after it (or the last byte read)
    found, problem = logscan.scan_lines_with_deadline({n: p.regex for n, p in spec.phases.items()},
                                                      "\n".join(lines))
    problems = [f"phase {problem}"] if problem else []
    hits: dict[int, tuple[str, int | None]] = {}
    for name in spec.phases:  # declaration order decides a line two patterns match
        for index, group in found.get(name, []):
            if index not in hits:
                hits[index] = (name, _epoch(group))
    markers: list[PhaseMarker] = []
    state: tuple[str, int | None] | None = None
    for index in sorted(hits):
        phase, epoch = hits[index]
        if state is not None and state[0] == phase and (epoch is None or epoch == state[1]):
            continue
        t_wall = times.arrival_wall(min(ends[index], max(len(raw) - 1, 0)))
        if t_wall is None:
            problems.append(f"phase {phase!r}: log line {index + 1} has no arrival time")
            continue
        state = (phase, epoch)
        markers.append(PhaseMarker(phase=phase, t_wall=t_wall, epoch=epoch, source="log"))
    return markers, problems


def _epoch(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class _Cut:
    phase: str
    epoch: int | None
    samples: int | None
    t: float  # monotonic start of the slice


def plan_slices(markers: Sequence[PhaseMarker], window: Window) -> tuple[list[_Cut], list[PhaseMarker], list[str]]:
    """The slices' starts in time order (the first at the window start), the markers used, and notes."""
    notes: list[str] = []
    if any(b.t_wall < a.t_wall for a, b in pairwise(markers)):
        notes.append("phase markers out of order: taken in time order")
    ordered = sorted(markers, key=lambda m: m.t_wall)
    used: list[PhaseMarker] = []
    cuts = [_Cut(STARTUP, None, None, window.t0_mono)]
    for m in ordered:
        t = window.mono(m.t_wall)
        if t > window.t1_mono:
            notes.append(f"phase marker {m.phase!r} at +{t - window.t0_mono:.2f} s is past the window's end "
                         f"(+{window.t1_mono - window.t0_mono:.2f} s): ignored")
            continue
        if t < window.t0_mono - EARLY_TOLERANCE_S:
            notes.append(f"phase marker {m.phase!r} at {t - window.t0_mono:.2f} s is before the window started "
                         "(another clock?): ignored")
            continue
        t = max(t, window.t0_mono)
        last = cuts[-1]
        if len(cuts) >= MAX_SLICES and (m.phase, m.epoch) != (last.phase, last.epoch):
            notes.append(f"more than {MAX_SLICES} phase slices: the markers from +{t - window.t0_mono:.2f} s on "
                         "are ignored (the last slice runs to the window's end)")
            break
        if (m.phase, m.epoch) == (last.phase, last.epoch):
            continue  # the same phase again
        cut = _Cut(m.phase, m.epoch, m.samples, t)
        if t <= last.t:
            cuts[-1] = cut  # the earlier phase had no time (e.g. the implicit start-up of a marker at the start)
        else:
            cuts.append(cut)
        used.append(m)
    return cuts, used, notes


def measure_phases(markers: Sequence[PhaseMarker], problems: Sequence[str], window: Window,
                   slicers: Mapping[str, WindowSlicer], final: Mapping[str, float | None],
                   baselines: Mapping[str, Any], gpu_index: int | None) -> Phases:
    """The record's phases section: the window sliced at the markers (the whole window without any).

    `final` is the window's energy per sensor as recorded; a sensor whose recorded window differs
    from its sampled one (the CPU-time estimate, corrected from the kernel's accounting) has its
    slices scaled to add up to the recorded value."""
    slicers = {n: s for n, s in slicers.items() if _counts(s, gpu_index)}
    notes = list(problems)
    cuts, used, more = plan_slices(markers, window)
    notes += more
    marked = bool(used)
    if not marked:
        cuts = [_Cut("window", None, None, window.t0_mono)]
    bounds = [c.t for c in cuts] + [window.t1_mono]
    scale = {n: _scale(s, final.get(n)) for n, s in slicers.items()}
    if any(s.mode == "independent" for s in slicers.values()):
        notes.append("the window's energy is partial: phases are measured one by one and may not add up to it")

    def part(spans: list[tuple[int, int]], phase: str, epoch: int | None, samples: int | None) -> PhaseEnergy:
        per = {n: [s.energy(bounds[i], bounds[j]) for i, j in spans] for n, s in slicers.items()}
        duration = sum(bounds[j] - bounds[i] for i, j in spans)
        return _phase_energy(phase, epoch, samples, bounds[spans[0][0]] - window.t0_mono, duration, per, scale,
                             slicers, baselines)

    slices = [part([(i, i + 1)], c.phase, c.epoch, c.samples) for i, c in enumerate(cuts)]
    totals = []
    for phase in dict.fromkeys(c.phase for c in cuts):
        idx = [i for i, c in enumerate(cuts) if c.phase == phase]
        runs: list[tuple[int, int]] = []
        for i in idx:
            if runs and runs[-1][1] == i:
                runs[-1] = (runs[-1][0], i + 1)
            else:
                runs.append((i, i + 1))
        counts = [cuts[i].samples for i in idx]
        samples = sum(c for c in counts if c is not None) if all(c is not None for c in counts) else None
        totals.append(part(runs, phase, None, samples))
    train = [c for c in cuts if c.phase == TRAIN]
    epochs = {c.epoch for c in train if c.epoch is not None}
    train_total = next((t for t in totals if t.phase == TRAIN), None)
    return Phases(
        marked=marked, source=used[0].source if used else None, reason=None if marked else NO_MARKERS,
        notes=notes, markers=used, slices=slices, totals=totals,
        train_epochs=len(epochs) if epochs else None,
        train_samples=train_total.samples if train_total is not None else None,
    )


def _counts(slicer: WindowSlicer, gpu_index: int | None) -> bool:
    """Whether the sensor belongs to this experiment (not another slot's GPU)."""
    info = slicer.info
    if info.domain != "gpu" or not (info.name.startswith("gpu") and info.name[3:].isdigit()):
        return True
    return int(info.name[3:]) == gpu_index


def _scale(slicer: WindowSlicer, final: float | None) -> float | None:
    """Factor from the sampled window to the recorded one (1 when equal; None: slices unknown)."""
    sampled = slicer.whole.energy_j
    if final is None:
        return None
    if sampled is None or sampled <= 0:
        return None if abs(final) > 0 else 1.0
    ratio = final / sampled
    return 1.0 if abs(ratio - 1.0) < 1e-12 else ratio


def _phase_energy(phase: str, epoch: int | None, samples: int | None, start_s: float, duration_s: float,
                  per: Mapping[str, list[SliceEnergy]], scale: Mapping[str, float | None],
                  slicers: Mapping[str, WindowSlicer], baselines: Mapping[str, Any]) -> PhaseEnergy:
    rows: list[PhaseSensorEnergy] = []
    domains: dict[str, list[tuple[float | None, float | None]]] = {}
    net: list[float | None] = []
    reasons = []
    partial = False
    for name, parts in per.items():
        factor = scale[name]
        known = factor is not None and all(p.energy_j is not None for p in parts)
        energy = bound = None
        if known:
            assert factor is not None
            energy = factor * sum(p.energy_j for p in parts if p.energy_j is not None)
            bounds = [p.uncertainty_j for p in parts]
            bound = factor * sum(b for b in bounds if b is not None) if all(b is not None for b in bounds) else None
        partial = partial or any(p.partial for p in parts)
        reasons += [f"{name}: {p.reason}" for p in parts if p.reason]
        rows.append(PhaseSensorEnergy(sensor=name, energy_j=energy, uncertainty_j=bound))
        domain = slicers[name].info.domain
        domains.setdefault(domain, []).append((energy, bound))
        if domain == "gpu":
            idle_w = getattr(baselines.get(name), "power_w", None)
            net.append(energy - idle_w * duration_s if energy is not None and idle_w is not None else None)
    gpu, gpu_bound = _sum(domains.get("gpu"))
    cpu, cpu_bound = _sum(domains.get("cpu"))
    dram, _ = _sum(domains.get("dram"))
    has_gpu = "gpu" in domains
    total = None
    if cpu is not None and (gpu is not None or not has_gpu):
        total = (gpu or 0.0) + cpu + (dram or 0.0)
    return PhaseEnergy(
        phase=phase, epoch=epoch, start_s=start_s, duration_s=duration_s, samples=samples,
        gpu_energy_j=gpu, gpu_uncertainty_j=gpu_bound,
        gpu_net_energy_j=sum(n for n in net if n is not None) if net and all(n is not None for n in net) else None,
        cpu_energy_j=cpu, cpu_uncertainty_j=cpu_bound, total_energy_j=total, partial=partial,
        reason="; ".join(dict.fromkeys(reasons)) or None, sensors=rows,
    )


def _sum(pairs: list[tuple[float | None, float | None]] | None) -> tuple[float | None, float | None]:
    if not pairs or any(e is None for e, _ in pairs):
        return None, None
    energy = sum(e for e, _ in pairs if e is not None)
    bound = sum(b for _, b in pairs if b is not None) if all(b is not None for _, b in pairs) else None
    return energy, bound
