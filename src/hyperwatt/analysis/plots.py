"""Figures as self-contained PNGs (matplotlib's Agg canvas, no display, no global pyplot state)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from hyperwatt.analysis.analyse import GroupAnalysis
from hyperwatt.analysis.effects import runs_for
from hyperwatt.analysis.quantities import (
    DURATION, GPU_ENERGY, MARGINAL_ENERGY, SHARE_ENERGY, Quantity, measure, metric_quantity,
)
from hyperwatt.analysis.settings import format_value, numeric
from hyperwatt.analysis.stats import COVERAGE_K, Summary
from hyperwatt.records import ExperimentRecord

DPI = 90
#: Limits that keep a report of hundreds of experiments readable (and its file small).
MAX_METRIC_PANELS = 4
MAX_HP_COLUMNS = 6
#: Rows of the hyperparameter panels beyond energy: each row costs every column an axes (a report of
#: 1,200 experiments spent most of its time drawing them).
MAX_METRIC_ROWS = 1
MAX_LABELLED_POINTS = 12
MAX_BAR_SETTINGS = 30
#: A hyperparameter spanning at least this ratio is drawn on a log axis.
LOG_SCALE_RATIO = 20.0
_FRONT = "#d62728"
_OTHER = "#7f7f7f"
_REF = "#1f77b4"


@dataclass(frozen=True)
class Plot:
    title: str
    caption: str
    png_base64: str

    @property
    def data_uri(self) -> str:
        return f"data:image/png;base64,{self.png_base64}"


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _axis_label(q: Quantity) -> str:
    return f"{q.label} ({q.unit})" if q.unit else q.label


def _err(s: Summary | None, measured: bool) -> float:
    """Expanded uncertainty for error bars: spread and, for measured energies, the bound (k = 2)."""
    if s is None:
        return 0.0
    u = s.expanded_uncertainty if measured else (None if s.sem is None else COVERAGE_K * s.sem)
    return u or 0.0


def _bars(summaries: list[Summary], q: Quantity, measured: bool) -> list[list[float]]:
    """Lower and upper error-bar lengths; a quantity that cannot be negative stops at 0."""
    errs = [_err(s, measured) for s in summaries]
    lower = [min(e, max(s.mean, 0.0)) if q.nonnegative else e for s, e in zip(summaries, errs, strict=True)]
    return [lower, errs]


def energy_vs_metric(g: GroupAnalysis) -> Plot | None:
    """Setting means of energy vs each metric with k = 2 error bars; the Pareto front in red."""
    energy = g.energy
    if energy is None or not g.metrics:
        return None
    fronts = {f.metric: f for f in g.fronts}
    metrics = sorted(g.metrics, key=lambda m: (m not in fronts, m))[:MAX_METRIC_PANELS]
    fig = Figure(figsize=(4.6 * len(metrics), 3.8), layout="constrained")
    drew = False
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        mq = metric_quantity(metric)
        rows = [(s, e, m) for s in g.settings if (e := s.get(energy)) is not None and (m := s.get(mq)) is not None]
        on_front = {p.setting.key_hash for p in fronts[metric].points if p.on_front} if metric in fronts else set()
        classes = ((_FRONT, "o", [x for x in rows if x[0].key_hash in on_front]),
                   (_REF, "*", [x for x in rows if x[0].is_reference and x[0].key_hash not in on_front]),
                   (_OTHER, "o", [x for x in rows if not x[0].is_reference and x[0].key_hash not in on_front]))
        for color, marker, members in classes:
            if members:  # one call per class: hundreds of settings stay fast
                ax.errorbar([e.mean for _, e, _ in members], [m.mean for _, _, m in members],
                            xerr=_bars([e for _, e, _ in members], energy, True),
                            yerr=[_err(m, False) for _, _, m in members],
                            fmt=marker, color=color, ms=9 if marker == "*" else 5, capsize=2, lw=0.8, ls="none")
        if len(rows) <= MAX_LABELLED_POINTS:
            for s, e, m in rows:
                ax.annotate(s.name, (e.mean, m.mean), fontsize=6, xytext=(3, 3), textcoords="offset points")
        drew = drew or bool(rows)
        if metric in fronts:
            front = fronts[metric].front
            ax.plot([p.energy_j for p in front], [p.metric for p in front], "-", color=_FRONT, lw=1,
                    label="Pareto front")
            goal = "↑" if fronts[metric].goal == "max" else "↓"
            ax.set_title(f"{metric} {goal} vs {energy.label} ↓", fontsize=9)
            ax.legend(fontsize=7, loc="best")
        else:
            ax.set_title(f"{metric} (goal unknown) vs {energy.label}", fontsize=9)
        ax.set_xlabel(_axis_label(energy), fontsize=8)
        ax.set_ylabel(metric, fontsize=8)
        ax.tick_params(labelsize=7)
    if not drew:
        return None
    return Plot(f"{g.key.title}: energy vs metrics",
                f"Each point is one setting's mean over its valid runs; error bars ±2 standard uncertainties "
                f"(run-to-run spread, and for energy the measurement bound). Red: Pareto front "
                f"(lower {energy.label}, metric toward its goal). Star: the default setting.",
                _png(fig))


def _positions(values: Sequence[Any]) -> tuple[list[float], list[str] | None]:
    """Numeric x values, or category positions with their tick labels."""
    nums = [numeric(v) for v in values]
    if all(n is not None for n in nums) and not any(isinstance(v, bool) for v in values):
        return [float(n) for n in nums if n is not None], None
    cats = sorted({format_value(v) for v in values})
    return [float(cats.index(format_value(v))) for v in values], cats


def hyperparameter_panels(g: GroupAnalysis) -> Plot | None:
    """One column per varied hyperparameter; rows: energy (duration when energy was not measured) and the
    leading metric. Grey: runs; blue: means per value."""
    hps = g.hyperparameters[:MAX_HP_COLUMNS]
    directed = {f.metric for f in g.fronts}
    metrics = sorted(g.metrics, key=lambda m: (m not in directed, m))[:MAX_METRIC_ROWS]
    rows = ([g.energy] if g.energy else [DURATION]) + [metric_quantity(m) for m in metrics]
    if not hps:
        return None
    width, height = max(5.0, 3.0 * len(hps)), 2.3 * len(rows)
    fig = Figure(figsize=(width, height))
    # fixed margins in inches (tick labels, axis labels): constrained layout took 2/3 of the drawing time
    fig.subplots_adjust(left=0.85 / width, right=1 - 0.15 / width, bottom=0.7 / height, top=1 - 0.15 / height,
                        wspace=0.08, hspace=0.45)
    grid = fig.subplots(len(rows), len(hps), sharey="row", squeeze=False)
    for c, hp in enumerate(hps):
        runs = [r for r in runs_for(g.records, hp) if hp in r.hyperparameters]
        xs, cats = _positions([r.hyperparameters[hp] for r in runs])
        for r_i, q in enumerate(rows):
            ax = grid[r_i][c]
            pts = [(x, y) for x, r in zip(xs, runs, strict=True) if (y := measure(r, q)[0]) is not None]
            by_x: dict[float, list[float]] = {}
            for x, y in pts:
                by_x.setdefault(x, []).append(y)
            ax.plot([x for x, _ in pts], [y for _, y in pts], ".", color=_OTHER, alpha=0.5, ms=4)
            means = sorted((x, sum(ys) / len(ys)) for x, ys in by_x.items())
            ax.plot([x for x, _ in means], [m for _, m in means], "o", color=_REF, ms=4)
            if cats is not None:
                ax.set_xticks(range(len(cats)), cats, fontsize=6, rotation=30)
            elif xs and min(xs) > 0 and max(xs) / min(xs) >= LOG_SCALE_RATIO:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
            if r_i == len(rows) - 1:
                ax.set_xlabel(hp, fontsize=8)
            if c == 0:
                ax.set_ylabel(_axis_label(q), fontsize=7)
            ax.tick_params(labelsize=6)
    extra = len(g.hyperparameters) - len(hps)
    return Plot(f"{g.key.title}: hyperparameters vs energy and metrics",
                "Grey dots: individual valid runs; blue: the mean at each value. A column leaves out the runs "
                "that mutated another hyperparameter alone; with joint mutation, other hyperparameters vary at "
                "the same time." + (f" {extra} more hyperparameter(s) not shown." if extra else ""),
                _png(fig))


def power_timeline(record: ExperimentRecord, samples: pd.DataFrame) -> Plot:
    """Power per sensor over time, the measurement window shaded, idle baselines dashed."""
    e = record.energy
    t0 = e.window_start_wall if e.window_start_wall is not None else float(samples["t_wall"].min())
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    idle = {s.sensor: s.idle_power_w for s in e.sensors if s.idle_power_w is not None}
    for i, (sensor, df) in enumerate(samples.groupby("sensor", sort=True)):
        color = f"C{i % 10}"
        ax.plot(df["t_wall"] - t0, df["power_w"], "-", lw=0.9, color=color, label=f"{sensor} power")
        if "power_avg_w" in df.columns and df["power_avg_w"].notna().any():
            ax.plot(df["t_wall"] - t0, df["power_avg_w"], ":", lw=0.8, color=color, label=f"{sensor} 1-s average")
        if sensor in idle:
            ax.axhline(idle[sensor], ls="--", lw=0.7, color=color, label=f"{sensor} idle baseline")
    if e.window_start_wall is not None and e.window_end_wall is not None:
        ax.axvspan(0.0, e.window_end_wall - t0, color="#ffdd88", alpha=0.3, label="measurement window")
    ax.set_xlabel("time since the window opened (s)", fontsize=8)
    ax.set_ylabel("power (W)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    methods = ", ".join(sorted({f"{s.sensor}: {s.method}" for s in e.sensors})) or "no sensor"
    return Plot(f"power timeline of {record.experiment_id}",
                f"{record.workload} ({record.label}, {record.mode}); sensors {methods}.", _png(fig))


def attribution_bars(g: GroupAnalysis) -> Plot | None:
    """Parallel mode: whole-device vs foreground-attributed energy per setting, side by side."""
    kinds = [q for q in (GPU_ENERGY, MARGINAL_ENERGY, SHARE_ENERGY) if q in g.quantities]
    rows = [s for s in g.settings if any(s.get(q) is not None for q in kinds)][:MAX_BAR_SETTINGS]
    if g.key.mode != "parallel" or not kinds or not rows:
        return None
    width = 0.8 / len(kinds)
    fig = Figure(figsize=(max(6.0, 0.7 * len(rows) * len(kinds)), 3.8), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for k, q in enumerate(kinds):
        xs, summaries = [], []
        for i, s in enumerate(rows):
            summ = s.get(q)
            if summ is not None:
                xs.append(i + (k - (len(kinds) - 1) / 2) * width)
                summaries.append(summ)
        label = "whole device" if q is GPU_ENERGY else q.label
        ax.bar(xs, [x.mean for x in summaries], width=width, yerr=_bars(summaries, q, True), capsize=2, label=label,
               color=f"C{k}")
    ax.set_xticks(range(len(rows)), [s.name for s in rows], fontsize=6, rotation=30, ha="right")
    ax.set_ylabel("GPU energy (J)", fontsize=8)
    ax.axhline(0, color="black", lw=0.5)
    ax.legend(fontsize=7)
    total = sum(1 for s in g.settings if any(s.get(q) is not None for q in kinds))
    more = f" Showing {len(rows)} of {total} settings." if total > len(rows) else ""
    return Plot(f"{g.key.title}: device vs foreground energy",
                "Whole-device GPU energy during the foreground window (foreground + background), the "
                "foreground's marginal energy (device − the background's power measured alone × window) and "
                "the utilisation-share split (an estimate without a stated bound); error bars ±2 standard "
                "uncertainties over repeats." + more, _png(fig))
