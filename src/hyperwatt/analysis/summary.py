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
    lines = ["", f"{g.key.title} — {len(g.records)} run(s), {len(g.settings)} setting(s); {energy}"]
    ranked = sorted((c for c in g.correlations if c.quantity in g.headline),
                    key=lambda c: (c.p_value, -abs(c.rho)))
    for c in ranked[:top]:
        lines.append(f"  effect: {c.text()}")
    if g.changes:
        lead = g.energy or g.headline[0]
        for ch in sorted(g.changes, key=lambda ch: -_size(ch, lead))[:top]:
            lines.append(f"  vs default: {ch.text(g.headline)}")
    elif g.hyperparameters:
        lines.append("  vs default: default setting not measured")
    for f in g.fronts:
        arrow = "↑" if f.goal == "max" else "↓"
        front = f.front
        pts = "; ".join(f"{p.setting.name} ({fmt.si(p.energy_j, 'J')}, {fmt.plain(p.metric)})"
                        for p in front[:FRONT_POINTS])
        more = f" … +{len(front) - FRONT_POINTS}" if len(front) > FRONT_POINTS else ""
        lines.append(f"  Pareto ({f.energy.label} ↓, {f.metric} {arrow}): {pts}{more}")
    return lines


def _size(change: SettingChange, q: Quantity) -> float:
    """How much a setting moved `q` (largest first in the summary)."""
    d = change.delta(q)
    return abs(d.change) if d else 0.0
