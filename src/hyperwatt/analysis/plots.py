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

#: Figures are drawn at most FIGURE_WIDTH_IN wide at DPI: about 1,100 px, shown unscaled on a laptop screen,
#: so the fonts below (points) read as they would in print.
DPI = 110
FIGURE_WIDTH_IN = 10.0
FONT = 9
SMALL = 8
#: Panels per figure row (more are wrapped onto further rows, never shrunk).
PANELS_PER_ROW = 3
#: Characters of a tick or legend label before it is abbreviated (the full name goes in the caption).
LABEL_CHARS = 14
#: One colour per mode in every figure.
MODE_COLOURS = {"sequential": "#1f77b4", "parallel": "#ff7f0e"}
#: Runs per overlaid power-timeline figure (more runs: more figures).
RUNS_PER_TIMELINE_FIGURE = 20
#: Samples kept per run in an overlaid timeline (evenly thinned).
TIMELINE_POINTS = 600
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


def mode_colour(mode: str) -> str:
    return MODE_COLOURS.get(mode, "#2ca02c")


def short(label: str, chars: int = LABEL_CHARS) -> str:
    """A label of at most `chars` characters: the start and the end kept around an ellipsis."""
    if len(label) <= chars:
        return label
    head = (chars - 1) // 2
    return label[:head] + "…" + label[len(label) - (chars - 1 - head):]


def _key_text(names: Sequence[str]) -> str:
    """The caption's key of numbered points: `1 default; 2 mutate learning_rate #1; …`."""
    return "; ".join(f"{i} {n}" for i, n in enumerate(names, 1))


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
    cols = min(len(metrics), 2)
    n_rows = -(-len(metrics) // cols)
    fig = Figure(figsize=(min(FIGURE_WIDTH_IN, 5.0 * cols), 4.0 * n_rows), layout="constrained")
    colour = mode_colour(g.key.mode)
    number = {s.key_hash: i for i, s in enumerate(g.settings, 1)}
    labelled = len(g.settings) <= MAX_LABELLED_POINTS
    drew = False
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(n_rows, cols, i + 1)
        mq = metric_quantity(metric)
        rows = [(s, e, m) for s in g.settings if (e := s.get(energy)) is not None and (m := s.get(mq)) is not None]
        on_front = {p.setting.key_hash for p in fronts[metric].points if p.on_front} if metric in fronts else set()
        classes = ((_FRONT, "o", [x for x in rows if x[0].key_hash in on_front]),
                   (colour, "*", [x for x in rows if x[0].is_reference and x[0].key_hash not in on_front]),
                   (colour, "o", [x for x in rows if not x[0].is_reference and x[0].key_hash not in on_front]))
        for color, marker, members in classes:
            if members:  # one call per class: hundreds of settings stay fast
                ax.errorbar([e.mean for _, e, _ in members], [m.mean for _, _, m in members],
                            xerr=_bars([e for _, e, _ in members], energy, True),
                            yerr=[_err(m, False) for _, _, m in members],
                            fmt=marker, color=color, ms=9 if marker == "*" else 5, capsize=2, lw=0.8, ls="none")
        if labelled:  # numbers, not names: names overlap; the caption holds the key
            for s, e, m in rows:
                ax.annotate(str(number[s.key_hash]), (e.mean, m.mean), fontsize=SMALL, xytext=(3, 3),
                            textcoords="offset points")
        drew = drew or bool(rows)
        if metric in fronts:
            front = fronts[metric].front
            ax.plot([p.energy_j for p in front], [p.metric for p in front], "-", color=_FRONT, lw=1,
                    label="Pareto front")
            goal = "↑" if fronts[metric].goal == "max" else "↓"
            ax.set_title(f"{short(metric, 30)} {goal} vs {energy.label} ↓", fontsize=FONT)
            ax.legend(fontsize=SMALL, loc="best")
        else:
            ax.set_title(f"{short(metric, 30)} (goal unknown) vs {energy.label}", fontsize=FONT)
        ax.set_xlabel(_axis_label(energy), fontsize=FONT)
        ax.set_ylabel(short(metric, 30), fontsize=FONT)
        ax.tick_params(labelsize=SMALL)
    if not drew:
        return None
    key = f" Points: {_key_text([s.name for s in g.settings])}." if labelled else ""
    return Plot(f"{g.key.title}: energy vs metrics",
                f"Each point is one setting's mean over its valid runs; error bars ±2 standard uncertainties "
                f"(run-to-run spread, and for energy the measurement bound). Red: Pareto front "
                f"(lower {energy.label}, metric toward its goal). Star: the default setting." + key,
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
    cols = min(len(hps), PANELS_PER_ROW)
    bands = -(-len(hps) // cols)  # hyperparameters wrap onto bands of `cols` columns
    n_rows = len(rows) * bands
    width, height = min(FIGURE_WIDTH_IN, max(5.0, 3.3 * cols)), 2.4 * n_rows
    fig = Figure(figsize=(width, height))
    # fixed margins in inches (constrained layout took 2/3 of the drawing time): room for the y label
    # and ticks on the left, and below every row for its (rotated, abbreviated) ticks and x label
    gap_in, bottom_in, top_in = 1.0, 1.1, 0.2
    axes_in = (height - bottom_in - top_in - gap_in * (n_rows - 1)) / n_rows
    fig.subplots_adjust(left=0.95 / width, right=1 - 0.15 / width, bottom=bottom_in / height, top=1 - top_in / height,
                        wspace=0.08, hspace=gap_in / axes_in)
    grid = fig.subplots(n_rows, cols, sharey="row", squeeze=False)
    colour = mode_colour(g.key.mode)
    abbreviated: list[str] = []
    for blank in range(len(hps), cols * bands):  # the last band's empty places
        for r_i in range(len(rows)):
            grid[(blank // cols) * len(rows) + r_i][blank % cols].set_visible(False)
    for h_i, hp in enumerate(hps):
        band, c = divmod(h_i, cols)
        runs = [r for r in runs_for(g.records, hp) if hp in r.hyperparameters]
        xs, cats = _positions([r.hyperparameters[hp] for r in runs])
        for r_i, q in enumerate(rows):
            ax = grid[band * len(rows) + r_i][c]
            pts = [(x, y) for x, r in zip(xs, runs, strict=True) if (y := measure(r, q)[0]) is not None]
            by_x: dict[float, list[float]] = {}
            for x, y in pts:
                by_x.setdefault(x, []).append(y)
            ax.plot([x for x, _ in pts], [y for _, y in pts], ".", color=_OTHER, alpha=0.5, ms=4)
            means = sorted((x, sum(ys) / len(ys)) for x, ys in by_x.items())
            ax.plot([x for x, _ in means], [m for _, m in means], "o", color=colour, ms=5)
            if cats is not None:
                ax.set_xticks(range(len(cats)), [short(c) for c in cats], fontsize=SMALL, rotation=30, ha="right")
                abbreviated += [c for c in cats if short(c) != c and c not in abbreviated]
            elif xs and min(xs) > 0 and max(xs) / min(xs) >= LOG_SCALE_RATIO:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
            if r_i == len(rows) - 1:
                ax.set_xlabel(short(hp, 30), fontsize=FONT)
            if c == 0:
                ax.set_ylabel(short(_axis_label(q), 24), fontsize=SMALL)
            ax.tick_params(labelsize=SMALL)
    extra = len(g.hyperparameters) - len(hps)
    full = f" Abbreviated values: {'; '.join(abbreviated)}." if abbreviated else ""
    return Plot(f"{g.key.title}: hyperparameters vs energy and metrics",
                f"Grey dots: individual valid runs; coloured ({g.key.mode} mode): the mean at each value. A column "
                "leaves out the runs that mutated another hyperparameter alone; with joint mutation, other "
                "hyperparameters vary at the same time." + (f" {extra} more hyperparameter(s) not shown." if extra else "")
                + full, _png(fig))


def power_timeline(record: ExperimentRecord, samples: pd.DataFrame) -> Plot:
    """Power per sensor over time, the measurement window shaded, idle baselines dashed."""
    e = record.energy
    t0 = e.window_start_wall if e.window_start_wall is not None else float(samples["t_wall"].min())
    fig = Figure(figsize=(FIGURE_WIDTH_IN, 3.6), layout="constrained")
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
        ax.axvspan(0.0, e.window_end_wall - t0, color=mode_colour(record.mode), alpha=0.12,
                   label=f"measurement window ({record.mode})")
    ax.set_xlabel("time since the window opened (s)", fontsize=FONT)
    ax.set_ylabel("power (W)", fontsize=FONT)
    ax.tick_params(labelsize=SMALL)
    ax.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
    fig = Figure(figsize=(min(FIGURE_WIDTH_IN, max(6.0, 0.7 * len(rows) * len(kinds))), 4.0), layout="constrained")
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
    ax.set_xticks(range(len(rows)), [str(i) for i in range(1, len(rows) + 1)], fontsize=SMALL)
    ax.set_xlabel("setting (key in the caption)", fontsize=FONT)
    ax.set_ylabel("GPU energy (J)", fontsize=FONT)
    ax.tick_params(labelsize=SMALL)
    ax.axhline(0, color="black", lw=0.5)
    ax.legend(fontsize=SMALL)
    total = sum(1 for s in g.settings if any(s.get(q) is not None for q in kinds))
    more = f" Showing {len(rows)} of {total} settings." if total > len(rows) else ""
    return Plot(f"{g.key.title}: device vs foreground energy",
                "Whole-device GPU energy during the foreground window (foreground + background), the "
                "foreground's marginal energy (device − the background's power measured alone × window) and "
                "the utilisation-share split (an estimate without a stated bound); error bars ±2 standard "
                "uncertainties over repeats." + more
                + f" Settings: {_key_text([s.name for s in rows])}.", _png(fig))


def _main_power(samples: pd.DataFrame) -> tuple[pd.Series, pd.Series, str]:
    """The run's GPU power (summed over its GPUs), else its CPU power: time and watts, thinned."""
    gpus = samples[samples["sensor"].astype(str).str.startswith("gpu")]
    part, what = (gpus, "GPU") if not gpus.empty else (samples, str(samples["sensor"].iloc[0]))
    if part["sensor"].nunique() > 1:  # several GPUs (or sensors): sum on a shared 0.1-s grid
        binned = part.assign(t=(part["t_wall"] * 10).round() / 10).groupby(["t", "sensor"])["power_w"].mean()
        total = binned.groupby(level="t").sum()
        t, w = pd.Series(total.index, dtype=float), pd.Series(total.to_numpy(), dtype=float)
    else:
        t, w = part["t_wall"].reset_index(drop=True), part["power_w"].reset_index(drop=True)
    step = max(1, len(t) // TIMELINE_POINTS)
    return t.iloc[::step], w.iloc[::step], what


def run_timelines(title: str, runs: Sequence[tuple[ExperimentRecord, pd.DataFrame]],
                  missing: Sequence[ExperimentRecord] = ()) -> list[Plot]:
    """Every run's power over its measurement window, overlaid: one line per run, coloured by
    setting, RUNS_PER_TIMELINE_FIGURE runs per figure; runs without a readable timeline are named."""
    out: list[Plot] = []
    settings = sorted({r.label for r, _ in runs})
    chunks = [runs[i:i + RUNS_PER_TIMELINE_FIGURE] for i in range(0, len(runs), RUNS_PER_TIMELINE_FIGURE)]
    for n, chunk in enumerate(chunks, 1):
        fig = Figure(figsize=(FIGURE_WIDTH_IN, 4.0), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        kinds = set()
        for record, samples in chunk:
            t, w, what = _main_power(samples)
            kinds.add(what)
            t0 = record.energy.window_start_wall if record.energy.window_start_wall is not None else float(t.min())
            colour = f"C{settings.index(record.label) % 10}" if len(settings) <= 10 else \
                mode_colour(record.mode)
            ax.plot(t - t0, w, "-", lw=0.9, color=colour, alpha=0.85,
                    label=f"#{record.slot + 1} {short(record.label, 22)}")
        ax.axvline(0.0, color="black", lw=0.6, ls="--")
        ax.set_xlabel("time since the window opened (s)", fontsize=FONT)
        ax.set_ylabel(f"{' / '.join(sorted(kinds))} power (W)", fontsize=FONT)
        ax.tick_params(labelsize=SMALL)
        ax.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1 if len(chunk) <= 12 else 2)
        part = f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""
        gone = (f" No readable timeline: {', '.join(r.experiment_id for r in missing)}."
                if missing and n == len(chunks) else "")
        out.append(Plot(f"{title}: power of every run{part}",
                        "Each line is one run (#its place in the plan, its setting), from its samples, aligned "
                        "at the opening of its measurement window (dashed line); GPUs summed." + gone, _png(fig)))
    return out
