"""The short console summary of an analysis: validity, top effects, changes vs default, Pareto fronts."""

from __future__ import annotations

from hyperwatt.analysis import formatting as fmt
from hyperwatt.analysis.analyse import Analysis, GroupAnalysis
from hyperwatt.analysis.effects import SettingChange
from hyperwatt.analysis.quantities import Quantity
from hyperwatt.words import plural

#: Lines per group and kind, so that hundreds of experiments still summarise in a screenful.
TOP = 3
FRONT_POINTS = 5
#: Quantities per "vs default" line: the energy, the duration and the first metrics (report.html has all).
HEADLINE = 4
#: A rank correlation is called an effect below this p.
ALPHA = 0.05
SPREAD_UNKNOWN = ("1 run per setting: the run-to-run spread is unknown, so no effect is claimed "
                  "(set `repeats = 3` or more in the plan to measure it)")


def summary_text(analysis: Analysis, top: int = TOP) -> str:
    v = analysis.validity
    head = f"{plural(v.total, 'experiment')}, {len(v.valid)} valid"
    if v.excluded:
        reasons = ", ".join(f"{code} ×{n}" for code, n in v.reasons().most_common())
        head += f", {len(v.excluded)} excluded ({reasons})"
    lines = [head]
    if v.energy_excluded:
        lines.append(f"{len(v.energy_excluded)} valid experiment(s) with partial energy: energy left out")
    for g in analysis.groups:
        lines += _group(g, top)
    if not analysis.groups:
        lines.append("no valid experiment: nothing to analyse")
    return "\n".join(lines)


def _group(g: GroupAnalysis, top: int) -> list[str]:
    energy = f"trade-offs on {g.energy.label}" if g.energy else f"energy {fmt.NOT_MEASURED}"
    runs = sorted({s.n_runs for s in g.settings})
    per = "" if not runs else f" ({runs[0]} run each)" if runs == [1] else (
        f" ({runs[0]} runs each)" if len(runs) == 1 else f" ({runs[0]}–{runs[-1]} runs each)")
    lines = ["", f"{g.key.title} — {plural(len(g.records), 'run')}, {plural(len(g.settings), 'setting')}{per}; "
             f"{energy}"]
    once = sum(s.n_runs < 2 for s in g.settings)
    if g.hyperparameters and once == len(g.settings):
        lines.append(f"  {SPREAD_UNKNOWN}")
    elif g.hyperparameters and once:
        lines.append(f"  {once} of {len(g.settings)} settings ran once: their run-to-run spread is unknown, so no "
                     "effect involving them is claimed")
    ranked = sorted((c for c in g.correlations if c.quantity in g.headline and c.spread_known),
                    key=lambda c: (c.p_value, -abs(c.rho)))
    for c in ranked[:top]:
        lines.append(f"  {'effect' if c.p_value < ALPHA else 'no clear effect'}: {c.text()}")
    if g.changes:
        lead = g.energy or g.headline[0]
        for ch in sorted(g.changes, key=lambda ch: -_size(ch, lead))[:top]:
            lines.append(f"  vs default: {_change(ch, g.headline)}")
    elif g.hyperparameters:
        lines.append("  vs default: default setting not measured")
    for f in g.fronts:
        arrow = "↑" if f.goal == "max" else "↓"
        front = f.front
        pts = "; ".join(f"{p.setting.name} ({fmt.si(p.energy_j, 'J')}, {fmt.plain(p.metric)}, n = {p.setting.n_runs})"
                        for p in front[:FRONT_POINTS])
        more = f" … +{len(front) - FRONT_POINTS}" if len(front) > FRONT_POINTS else ""
        lines.append(f"  Pareto ({f.energy.label} ↓, {f.metric} {arrow}): {pts}{more}")
    return lines


def _change(ch: SettingChange, quantities: list[Quantity]) -> str:
    """A setting against the default with its evidence: runs on each side, and each change's 95% interval;
    with one run on either side, the observed change and that no effect is claimed."""
    n_ref, n_cur = (ch.setting.n_runs, ch.setting.n_runs) if not ch.deltas else ch.deltas[0].n
    evidence = f"{plural(n_cur, 'run')} vs {n_ref} of the default"
    what = ", ".join(c.text(compact=True) for c in ch.changes) or ch.setting.name
    if len(ch.changes) > 1:
        what += f" (confounded: {len(ch.changes)} hyperparameters differ)"
    wanted = [d for q in quantities if (d := ch.delta(q))][:HEADLINE]
    if not wanted:
        return f"{what} → no common quantity measured ({evidence})"
    if min(n_ref, n_cur) < 2:
        observed = ", ".join(f"{d.quantity.label} {d._fmt(d.change)}" for d in wanted)
        return f"{what} → observed once: {observed} ({evidence}; spread unknown, no effect claimed)"
    parts = [d.text() + ("" if d.claimed else ": no clear change") for d in wanted]
    return f"{what} → " + ", ".join(parts) + f" ({evidence})"


def _size(change: SettingChange, q: Quantity) -> float:
    """How much a setting moved `q` (largest first in the summary)."""
    d = change.delta(q)
    return abs(d.change) if d else 0.0
