"""Figures of the findings: one idea each, units on the axes, embedded as PNG."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from hyperwatt.analysis.findings import Findings, GroupFindings
from hyperwatt.analysis.plots import Plot, _png

#: Limits that keep a large report readable.
MAX_GROUP_ROWS = 30
MAX_HP_COLUMNS = 12
MAX_PAIRS = 30
MAX_CURVE_SETTINGS = 8


def _methods(f: Findings) -> str:
    """Which energy methods a figure over every group rests on (provenance in the caption)."""
    return " Energy method: " + ", ".join(f"{m} ({n} rows)" for m, n in f.methods.most_common()) + "."


def correlation_matrix(f: Findings) -> Plot | None:
    """Spearman's ρ (all rows) per group × hyperparameter; * marks q < 0.05, blank cells were not tested."""
    groups = [g for g in f.groups if any(x.all_rows.tested for x in g.correlations)][:MAX_GROUP_ROWS]
    hps = sorted({x.hyperparameter for g in groups for x in g.correlations if x.all_rows.tested})[:MAX_HP_COLUMNS]
    if not groups or not hps:
        return None
    m = np.full((len(groups), len(hps)), np.nan)
    stars: dict[tuple[int, int], str] = {}
    for i, g in enumerate(groups):
        for x in g.correlations:
            if x.hyperparameter in hps and x.all_rows.rho is not None:
                j = hps.index(x.hyperparameter)
                m[i, j] = x.all_rows.rho
                stars[(i, j)] = "*" if x.all_rows.significant else ""
    fig = Figure(figsize=(max(5.0, 1.0 * len(hps) + 3.5), max(2.4, 0.38 * len(groups) + 1.4)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(np.ma.masked_invalid(m), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for (i, j), star in stars.items():
        ax.text(j, i, f"{m[i, j]:+.2f}{star}".replace("-", "−"), ha="center", va="center", fontsize=7,
                color="white" if abs(m[i, j]) > 0.6 else "black")
    ax.set_xticks(range(len(hps)), hps, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(groups)), [g.group.key.title for g in groups], fontsize=7)
    fig.colorbar(im, ax=ax, label="Spearman ρ of energy (all rows)", shrink=0.8)
    return Plot("hyperparameters vs energy", "Spearman's ρ between each hyperparameter and the group's energy over all "
                "rows; * marks q < 0.05 (Benjamini–Hochberg over every test). Blank: not tested (constant, or too few "
                "rows)." + _methods(f), _png(fig))


def savings(f: Findings) -> Plot | None:
    """The best qualifying setting's energy saving per group, with its 95% interval."""
    rows = [(g, g.greener.candidates[0]) for g in f.groups if g.greener.candidates][:MAX_GROUP_ROWS]
    if not rows:
        return None
    fig = Figure(figsize=(7.5, max(2.2, 0.35 * len(rows) + 1.2)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ys = list(range(len(rows)))
    vals = [100 * (c.saving or 0.0) for _, c in rows]
    lo = [v - 100 * c.saving_low if c.saving_low is not None else 0.0 for v, (_, c) in zip(vals, rows, strict=True)]
    hi = [100 * c.saving_high - v if c.saving_high is not None else 0.0 for v, (_, c) in zip(vals, rows, strict=True)]
    colors = ["#bbbbbb" if c.weak else "#2ca02c" for _, c in rows]
    ax.barh(ys, vals, xerr=[lo, hi], color=colors, capsize=2)
    ax.set_yticks(ys, [f"{g.group.key.title}: {c.name}" for g, c in rows], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(100 * f.options.saving, ls="--", lw=0.8, color="black")
    ax.set_xlabel("energy saving vs the default setting (%)", fontsize=8)
    ax.tick_params(labelsize=7)
    return Plot("greenest setting without loss, per group",
                f"Largest saving among settings with the primary metric within {f.options.tolerance:.0%} of the "
                f"default's; bars: 95% Welch interval (none when a side was measured once); grey: weak evidence; "
                f"dashed: the {f.options.saving:.0%} threshold." + _methods(f), _png(fig))


def elasticities(f: Findings) -> Plot | None:
    """Forest plot: each pair's elasticity in each mode with its 95% interval."""
    pairs = [p for p in f.sensitivity.pairs if p.sequential or p.parallel][:MAX_PAIRS]
    if not pairs:
        return None
    fig = Figure(figsize=(7.5, max(2.4, 0.4 * len(pairs) + 1.2)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for mode, color, dy in (("sequential", "#1f77b4", -0.15), ("parallel", "#d62728", 0.15)):
        pts = [(i + dy, e) for i, p in enumerate(pairs) if (e := getattr(p, mode)) is not None]
        if pts:
            ax.errorbar([e.slope for _, e in pts], [y for y, _ in pts],
                        xerr=[[e.slope - e.low for _, e in pts], [e.high - e.slope for _, e in pts]],
                        fmt="o", color=color, ms=4, capsize=2, lw=0.9, label=mode)
    ax.axvline(0, color="black", lw=0.5)
    labels = [f"{p.workload}: {p.hyperparameter}{' *' if p.significant else ''}" for p in pairs]
    ax.set_yticks(range(len(pairs)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("energy elasticity (Δ log energy per Δ log hyperparameter)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.tick_params(labelsize=7)
    return Plot("energy elasticity per mode",
                "Slope of log energy on log hyperparameter (raw value where a value is ≤ 0) in each mode, 95% "
                "intervals; * marks a significant mode × hyperparameter interaction (q < 0.05)." + _methods(f), _png(fig))


def energy_curves(g: GroupFindings) -> Plot | None:
    """Metric against cumulative GPU energy, one colour per setting."""
    t = g.to_target
    if not t.curves or t.metric is None:
        return None
    settings = list(t.by_setting().items())[:MAX_CURVE_SETTINGS]
    fig = Figure(figsize=(7.5, 3.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for i, (name, curves) in enumerate(settings):
        for k, c in enumerate(curves):
            pts = [(p.cumulative_j, p.metrics[t.metric]) for p in c.epochs if t.metric in p.metrics]
            ax.plot([x for x, _ in pts], [y for _, y in pts], "o-", ms=3, lw=1, color=f"C{i % 10}",
                    label=name if k == 0 else None)
    if t.target is not None:
        ax.axhline(t.target, ls="--", lw=0.8, color="black", label=f"target {t.target:.4g}")
    ax.set_xlabel("cumulative GPU energy since the window opened (J)", fontsize=8)
    ax.set_ylabel(t.metric, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    more = len(t.by_setting()) - len(settings)
    return Plot(f"{g.group.key.title}: {t.metric} vs energy",
                "One line per run, one colour per setting; each point is an epoch. Energy method: "
                + ", ".join(sorted(g.group.methods)) + "." +
                (f" {more} more setting(s) not shown." if more > 0 else ""), _png(fig))
