"""The findings as the HTML report shows them: verdict paragraphs on top, then one table set per question."""

from __future__ import annotations

from typing import Any

from hyperwatt.analysis import findings_plots as fp
from hyperwatt.analysis import formatting as fmt
from hyperwatt.analysis.findings import Findings, GroupFindings
from hyperwatt.analysis.greener import Interval, SettingResult

#: Settings listed per group in the greener table (qualifying and Pareto ones first).
MAX_SETTINGS = 15
MAX_CURVE_PLOTS = 6


def findings_context(f: Findings) -> dict[str, Any]:
    verdicts = f.verdicts()
    curves = [p for g in f.groups if (p := fp.energy_curves(g)) is not None][:MAX_CURVE_PLOTS]
    c = f.options.carbon
    return {
        "verdicts": [("Which hyperparameters correlate with energy?", verdicts["correlation"]),
                     ("Can a hyperparameter change cut energy without losing performance?", verdicts["greener"]),
                     ("Is energy more susceptible to hyperparameter changes in parallel mode?", verdicts["sensitivity"]),
                     ("How much energy does it take to reach a target?", verdicts["energy_to_target"]),
                     ("Which energy method do these figures rest on?", verdicts["provenance"])],
        "mixed": f.mixed_methods, "methods": f.methods.most_common(),
        "saving": f"{f.options.saving:.0%}", "tolerance": f"{f.options.tolerance:.0%}",
        "groups": [_group(g, f) for g in f.groups],
        "sensitivity": {
            "measured_as": f.sensitivity.measured_as,
            "pairs": [{
                "workload": p.workload, "hp": p.hyperparameter, "scale": p.scale,
                "seq": _elasticity(p.sequential), "par": _elasticity(p.parallel),
                "more": p.more_sensitive or "—", "p": fmt.p_value(p.p), "q": fmt.p_value(p.q),
                "significant": p.significant, "reason": p.reason or "",
            } for p in f.sensitivity.pairs],
            "spreads": [{"workload": s.workload, "mode": s.mode, "n": s.n, "mean": fmt.si(s.mean_j, "J"),
                         "cv": fmt.percent(s.cv), "sd_log": fmt.plain(s.sd_log, 3)} for s in f.sensitivity.spreads],
        },
        "carbon": {"text": c.text, "total_j": fmt.si(sum(r.energy_j for g in f.groups for r in g.group.rows), "J"),
                   "total_g": _grams(sum(c.grams(r.energy_j) for g in f.groups for r in g.group.rows)),
                   "groups": [{"title": g.group.key.title, "n": len(g.group.rows),
                               "energy": fmt.si(sum(r.energy_j for r in g.group.rows), "J"),
                               "grams": _grams(sum(c.grams(r.energy_j) for r in g.group.rows)),
                               "baseline": _grams(c.grams(g.greener.baseline.energy.mean))
                               if g.greener.baseline else "—",
                               "best": _grams(c.grams(g.greener.candidates[0].energy.mean))
                               if g.greener.candidates else "—"} for g in f.groups]},
        "figures": [p for p in (fp.correlation_matrix(f), fp.savings(f), fp.elasticities(f)) if p is not None],
        "curves": curves,
    }


def _minus(text: str) -> str:
    return text.replace("-", "−")


def _grams(g: float) -> str:
    return f"{g / 1000:.4g} kg CO2e" if g >= 1000 else f"{g:.4g} g CO2e"


def _interval(i: Interval | None, unit: str = "") -> str:
    if i is None:
        return "—"
    mean = fmt.si(i.mean, unit) if unit else fmt.plain(i.mean)
    if i.low is None:
        return f"{mean} (n = 1)"
    lo, hi = (fmt.si(i.low, unit), fmt.si(i.high, unit)) if unit else (fmt.plain(i.low), fmt.plain(i.high))
    return f"{mean} [{lo}, {hi}] (n = {i.n})"


def _elasticity(e: Any) -> str:
    if e is None:
        return "—"
    return f"{e.slope:+.3f} [{e.low:+.3f}, {e.high:+.3f}] (n = {e.n}{', isolated rows' if e.model == 'isolated' else ''})" \
        .replace("-", "−")


def _rho(x: float | None) -> str:
    return "—" if x is None else f"{x:+.2f}".replace("-", "−")


def _setting(s: SettingResult) -> dict[str, Any]:
    return {
        "name": s.name, "energy": _interval(s.energy, "J"), "metric": _interval(s.metric),
        "saving": "—" if s.saving is None else _minus(fmt.percent(s.saving)),
        "saving_ci": "" if s.saving_low is None else _minus(f"[{fmt.percent(s.saving_low)}, {fmt.percent(s.saving_high)}]"),
        "metric_change": "—" if s.metric_change is None else f"{s.metric_change * 100:+.2f}%".replace("-", "−"),
        "qualifies": s.qualifies, "front": s.on_front, "baseline": s.is_baseline, "weak": "; ".join(s.weak),
    }


def _group(g: GroupFindings, f: Findings) -> dict[str, Any]:
    grp, gr, tt = g.group, g.greener, g.to_target
    listed = sorted(gr.settings, key=lambda s: (not s.is_baseline, not s.qualifies, not s.on_front, s.energy.mean))
    by_setting = tt.by_setting()
    flags = []
    if len(grp.backgrounds) > 1:
        flags.append(f"backgrounds differ within the group: {', '.join(grp.backgrounds)}")
    if g.mixed_methods:
        flags.append("rows of different energy methods are combined here: "
                     + ", ".join(f"{m} ×{n}" for m, n in grp.methods.most_common()))
    return {
        "title": grp.key.title, "slug": "findings-" + "".join(c if c.isalnum() else "-" for c in grp.key.title).lower(),
        "n": len(grp.rows), "energy": f"{grp.energy.label} ({grp.energy.unit})",
        "methods": ", ".join(f"{m} ×{n}" for m, n in grp.methods.most_common()),
        "backgrounds": ", ".join(grp.backgrounds), "flags": flags,
        "dropped": ", ".join(f"{why} ×{n}" for why, n in grp.dropped.items()),
        "correlations": [{
            "hp": x.hyperparameter, "verdict": x.verdict, "flags": list(x.flags),
            "tests": [{"n": t.n, "rho": _rho(t.rho), "p": fmt.p_value(t.p), "q": fmt.p_value(t.q),
                       "significant": t.significant, "reason": t.reason or ""} for t in x.tests],
        } for x in g.correlations],
        "greener": {
            "metric": gr.metric or "—", "goal": gr.goal or "", "verdict": gr.verdict, "notes": gr.notes,
            "baseline": _setting(gr.baseline) if gr.baseline else None,
            "settings": [_setting(s) for s in listed[:MAX_SETTINGS]],
            "more": max(0, len(listed) - MAX_SETTINGS),
        },
        "target": {
            "metric": tt.metric, "target": fmt.plain(tt.target), "source": tt.target_source,
            "missing": ", ".join(f"{why} ×{n}" for why, n in tt.missing.items()),
            "settings": [{
                "name": name, "runs": len(curves), "reached": sum(c.reached_j is not None for c in curves),
                "energy": fmt.si(_mean([c.reached_j for c in curves if c.reached_j is not None]), "J"),
                "epoch": fmt.plain(_mean([c.reached_epoch for c in curves if c.reached_epoch is not None]), 3),
                "per_epoch": fmt.si(_mean([p.epoch_j for c in curves for p in c.epochs[1:]]), "J"),
            } for name, curves in by_setting.items()],
        },
    }


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None
