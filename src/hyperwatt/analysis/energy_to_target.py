"""Energy to target: per-epoch metrics against cumulative energy, the energy analogue of time-to-train.

The metric of each epoch comes from the metrics file's records with an `epoch` key. Its energy
comes from the record's phases (the window split at the training's phase markers, with epochs):
the cumulative GPU energy from the window's start to the end of the epoch's last slice. A record
without epoch-marked phases whose epoch records carry their wall time (`t_wall` or `t`) is cut on
its energy timeline instead (counter readings where the sensor has a counter, else power
integrated). Either way the energy to reach a target includes the start-up before the first epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hyperwatt.analysis.goals import Goal, GoalLookup
from hyperwatt.analysis.rows import Row, RowGroup
from hyperwatt.analysis.timeline import read_timeline, timeline_path
from hyperwatt.metricsfile import EVENT_KEY, PROGRESS_KEYS, loads
from hyperwatt.records import ExperimentRecord
from hyperwatt.store import SessionLayout

TIME_KEYS = ("t_wall", "t")
#: Keys of an epoch record that are not metrics.
_NOT_METRICS = PROGRESS_KEYS | set(TIME_KEYS)


@dataclass(frozen=True)
class EpochPoint:
    epoch: float
    cumulative_j: float
    epoch_j: float
    metrics: dict[str, float]


@dataclass(frozen=True)
class RunCurve:
    experiment_id: str
    setting: str
    epochs: tuple[EpochPoint, ...]
    #: cumulative energy at the first epoch whose metric met the target; None: never reached
    reached_j: float | None = None
    reached_epoch: float | None = None


@dataclass
class EnergyToTarget:
    metric: str | None
    goal: Goal | None
    target: float | None
    target_source: str
    curves: list[RunCurve] = field(default_factory=list)
    #: where the epochs' energy came from, with run counts ("phases", "timeline")
    sources: dict[str, int] = field(default_factory=dict)
    #: why rows have no curve, with counts
    missing: dict[str, int] = field(default_factory=dict)

    def by_setting(self) -> dict[str, list[RunCurve]]:
        out: dict[str, list[RunCurve]] = {}
        for c in self.curves:
            out.setdefault(c.setting, []).append(c)
        return out


def epoch_records(results_dir: Path, record: ExperimentRecord) -> list[dict[str, float]]:
    """The succeeded attempt's metrics-file records with an `epoch` (events left out), in file order."""
    attempt = next((a for a in reversed(record.attempts) if a.succeeded), None)
    if attempt is None:
        return []
    path = SessionLayout(results_dir, record.session_id).experiment(record.experiment_id).metrics_file(attempt.number)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        item = loads(line) if line.strip() else None
        if not isinstance(item, dict) or EVENT_KEY in item:
            continue
        nums = {k: float(v) for k, v in item.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
        if "epoch" in nums:
            out.append(nums)
    return out


def phase_energy(record: ExperimentRecord) -> dict[float, tuple[float, float]] | None:
    """epoch -> (GPU energy from the window's start to the end of the epoch, the epoch's own energy),
    from the record's phases; None when no slice is marked with an epoch or a slice lacks GPU energy."""
    phases = record.phases
    if phases is None or not phases.marked or not any(s.epoch is not None for s in phases.slices):
        return None
    out: dict[float, tuple[float, float]] = {}
    cumulative = 0.0
    for s in phases.slices:
        if s.gpu_energy_j is None:
            return None
        cumulative += s.gpu_energy_j
        if s.epoch is not None:
            own = out.get(float(s.epoch), (0.0, 0.0))[1]
            out[float(s.epoch)] = (cumulative, own + s.gpu_energy_j)
    return out


def cumulative_energy(record: ExperimentRecord, samples: pd.DataFrame, times: list[float]) -> list[float] | None:
    """GPU energy from the window's start to each wall time (J), summed over the record's GPU sensors."""
    gpus = {s.sensor for s in record.energy.sensors if s.domain == "gpu"}
    start = record.energy.window_start_wall
    if not gpus or start is None:
        return None
    total = np.zeros(len(times))
    found = False
    for sensor, df in samples.groupby("sensor", sort=True):
        if sensor not in gpus:
            continue
        t = df["t_wall"].to_numpy(dtype=float)
        if len(t) < 2:
            continue
        counter = df["energy_j"].to_numpy(dtype=float) if "energy_j" in df.columns else np.full(len(t), np.nan)
        if np.isfinite(counter).sum() >= 2:
            ok = np.isfinite(counter)
            t, c = t[ok], counter[ok]
        else:
            p = df["power_w"].to_numpy(dtype=float)
            c = np.concatenate([[0.0], np.cumsum(np.diff(t) * (p[1:] + p[:-1]) / 2.0)])
        at = np.interp(np.asarray(times, dtype=float), t, c)
        total += at - float(np.interp(start, t, c))
        found = True
    return [float(x) for x in total] if found else None


def _met(value: float, goal: Goal, target: float) -> bool:
    return value >= target if goal == "max" else value <= target


def energy_to_target(group: RowGroup, results_dir: Path | None, goals: GoalLookup, setting_of: dict[str, str],
                     primary: str | None, tolerance: float, targets: dict[str, float] | None = None
                     ) -> EnergyToTarget:
    """Curves of every row with timed epochs; the target from `targets` (metric -> value) or the default's quality.

    `setting_of`: experiment id -> its setting's name. Default target: the baseline setting's final
    epoch value, loosened by the tolerance (× (1 − τ) for a maximised metric, × (1 + τ) minimised);
    without a measured baseline, the median of the runs' final values.
    """
    missing: dict[str, int] = {}
    sources: dict[str, int] = {}
    raw: list[tuple[Row, list[dict[str, float]], list[float], list[float]]] = []
    for row in group.rows:
        found, why = _run_epochs(results_dir, row)
        if found is None:
            missing[why] = missing.get(why, 0) + 1
            continue
        epochs, cum, own, source = found
        sources[source] = sources.get(source, 0) + 1
        raw.append((row, epochs, cum, own))
    names = [k for _, epochs, _, _ in raw for e in epochs for k in e if k not in _NOT_METRICS]
    counts = {k: names.count(k) for k in dict.fromkeys(names)}
    wanted = [m for m in (targets or {}) if m in counts]
    ranked = wanted + ([primary] if primary in counts else []) + sorted(counts, key=lambda m: (-counts[m], m))
    metric = next((m for m in ranked if goals(group.key.workload, m) is not None), None)
    goal = goals(group.key.workload, metric) if metric else None
    out = EnergyToTarget(metric, goal, None, "", missing=missing, sources=sources)
    if metric is None or goal is None:
        if raw:
            missing["no per-epoch metric with a known goal"] = len(raw)
        return out
    finals = {row.id: last[metric] for row, epochs, _, _ in raw
              if (last := next((e for e in reversed(epochs) if metric in e), None)) is not None}
    base = [v for row, _, _, _ in raw if row.id in finals and group.is_baseline(row)
            for v in [finals[row.id]]]
    if targets and metric in targets:
        out.target, out.target_source = targets[metric], "given"
    elif base or finals:
        ref = sum(base) / len(base) if base else float(np.median(list(finals.values())))
        out.target = ref * (1 - tolerance) if goal == "max" else ref * (1 + tolerance)
        out.target_source = (f"the default setting's final {metric}" if base else f"the median final {metric}") + \
            f", {'−' if goal == 'max' else '+'}{tolerance:.0%}"
    for row, epochs, cum, own in raw:
        points = [EpochPoint(e["epoch"], c, o, {k: v for k, v in e.items() if k not in _NOT_METRICS})
                  for e, c, o in zip(epochs, cum, own, strict=True)]
        hit = next((p for p in points if metric in p.metrics and out.target is not None
                    and _met(p.metrics[metric], goal, out.target)), None)
        out.curves.append(RunCurve(row.id, setting_of.get(row.id, row.id), tuple(points),
                                   hit.cumulative_j if hit else None, hit.epoch if hit else None))
    return out


def _run_epochs(results_dir: Path | None, row: Row
                ) -> tuple[tuple[list[dict[str, float]], list[float], list[float], str] | None, str]:
    """(epoch records, cumulative energy, own energy, source) of one run, or None and why not."""
    epochs = epoch_records(results_dir, row.record) if results_dir is not None else []
    if not epochs:
        return None, "no per-epoch metrics"
    by_phase = phase_energy(row.record)
    if by_phase is not None:
        kept = [e for e in epochs if e["epoch"] in by_phase]
        if kept:
            return (kept, [by_phase[e["epoch"]][0] for e in kept], [by_phase[e["epoch"]][1] for e in kept],
                    "phases"), ""
    timed = [e for e in epochs if any(k in e for k in TIME_KEYS)]
    if not timed:
        return None, "no epoch phases and no epoch times"
    samples = read_timeline(timeline_path(results_dir, row.record)) if results_dir is not None else None
    times = [next(e[k] for k in TIME_KEYS if k in e) for e in timed]
    cum = cumulative_energy(row.record, samples, times) if samples is not None else None
    if cum is None:
        return None, "no GPU energy timeline"
    return (timed, cum, [c - p for c, p in zip(cum, [0.0, *cum[:-1]], strict=True)], "timeline"), ""
