"""The self-contained HTML report: header, validity, statistics, effects, trade-offs, plots, method."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import jinja2

from hyperwatt import __version__
from hyperwatt.analysis import formatting as fmt
import pandas as pd

from hyperwatt.analysis import plots
from hyperwatt.analysis.analyse import Analysis, GroupAnalysis
from hyperwatt.analysis.findings import Findings
from hyperwatt.analysis.findings_html import findings_context
from hyperwatt.analysis.quantities import Quantity, measure
from hyperwatt.analysis.search_study import StudyView
from hyperwatt.analysis.spread import RunSpread
from hyperwatt.analysis.stats import Summary
from hyperwatt.analysis.timeline import read_timeline, timeline_path
from hyperwatt.errors import HyperwattError
from hyperwatt.records import ExperimentRecord, cpu_only
from hyperwatt.store import SessionRow, atomic_write_text

TEMPLATE = "report.html.j2"
#: Power timelines embedded per report (one representative run per group, at most this many).
MAX_TIMELINES = 4
#: Runs whose timelines are overlaid in a report (every run of a study of this size).
MAX_OVERLAID_RUNS = 400
#: Groups drawn with their own figures (those with the most runs): each costs about a second to draw.
MAX_FIGURE_GROUPS = 12


@dataclass
class ReportInputs:
    """What the report says beyond the analysis itself: where the experiments came from."""

    title: str
    sessions: Sequence[SessionRow] = ()
    results_dir: Path | None = None
    #: Experiments of earlier sessions that stand in for this session's skipped (deduplicated) slots.
    reused: Sequence[str] = ()
    max_timelines: int = MAX_TIMELINES
    generated_wall: float | None = None
    #: The study's answers (analysis.findings), shown on top when given.
    findings: Findings | None = None
    #: Searches (Optuna studies) with trials among the report's experiments.
    searches: Sequence[StudyView] = ()


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("hyperwatt.analysis", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def render_report(analysis: Analysis, inputs: ReportInputs) -> str:
    """The report as one HTML string with every figure embedded (base64 PNG)."""
    biggest = sorted(analysis.groups, key=lambda g: -len(g.records))[:MAX_FIGURE_GROUPS]
    drawn = {g.key for g in biggest}
    when = inputs.generated_wall if inputs.generated_wall is not None else datetime.now(timezone.utc).timestamp()
    context = {
        "title": inputs.title,
        "generated": _iso(when),
        "version": __version__,
        "header": _header(analysis, inputs),
        "validity": _validity(analysis, inputs),
        "groups": [_group(g, g.key in drawn) for g in analysis.groups],
        "timelines": _timelines(analysis, inputs),
        "method": _method(analysis.records),
        "energy_measured": analysis.energy_measured,
        "not_measured": fmt.NOT_MEASURED, "max_figure_groups": MAX_FIGURE_GROUPS,
        "findings": findings_context(inputs.findings) if inputs.findings is not None else None,
        "searches": list(inputs.searches),
    }
    return _environment().get_template(TEMPLATE).render(**context)


def write_report(path: Path, html: str) -> Path:
    try:
        atomic_write_text(Path(path), html)
    except OSError as exc:
        raise HyperwattError(f"{path}: cannot write the report ({exc.strerror or exc}); pass --out "
                             "with a writable path") from None
    return Path(path)


def _iso(wall: float | None) -> str:
    if wall is None:
        return "—"
    return datetime.fromtimestamp(wall, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# header ---------------------------------------------------------------------------------------------
def _header(analysis: Analysis, inputs: ReportInputs) -> dict[str, Any]:
    recs = analysis.records
    hosts = sorted({str(r.environment["host"]) for r in recs if r.environment.get("host")}
                   | {s.host for s in inputs.sessions})
    gpus: set[str] = set()
    for r in recs:
        gpus |= {str(gpu["device"]) for gpu in r.environment.get("gpus") or []
                 if isinstance(gpu, dict) and gpu.get("device")}
        gpus |= {s.device for s in r.energy.sensors if s.domain == "gpu" and s.device}
    drivers = sorted({str(r.environment["driver"]) for r in recs if r.environment.get("driver")})
    sessions = [{
        "id": s.session_id, "plan": s.name, "plan_path": s.plan_path, "plan_hash": s.plan_hash, "host": s.host,
        "status": s.status, "started": _iso(s.started_wall), "ended": _iso(s.ended_wall), "planned": s.planned,
        "version": s.version,
    } for s in inputs.sessions]
    plan_hashes = sorted({r.plan_hash for r in recs if r.plan_hash} - {s.plan_hash for s in inputs.sessions})
    modes = Counter(r.mode for r in recs)
    return {
        "sessions": sessions, "hosts": hosts, "gpus": sorted(gpus), "drivers": drivers,
        "other_plan_hashes": plan_hashes, "experiments": len(recs),
        "workloads": sorted({r.workload for r in recs}), "modes": dict(sorted(modes.items())),
        "methods": _method_rows(recs), "on_gpu": not cpu_only(recs),
    }


def _method_rows(records: Sequence[ExperimentRecord]) -> list[dict[str, Any]]:
    """Per domain and method: sensors, update period, sample rate and the relative error bound."""
    rows: dict[tuple[str, str], list[Any]] = {}
    for r in records:
        for s in r.energy.sensors:
            rows.setdefault((s.domain, s.method), []).append(s)
    out = []
    for (domain, method), sensors in sorted(rows.items()):
        rel = [s.uncertainty_j / s.energy_j for s in sensors
               if s.energy_j and s.uncertainty_j is not None and s.energy_j > 0]
        periods = [s.update_period_s for s in sensors if s.update_period_s is not None]
        rates = [s.achieved_rate_hz for s in sensors if s.achieved_rate_hz is not None]
        out.append({
            "domain": domain, "method": method, "runs": len(sensors),
            "sensors": ", ".join(sorted({s.sensor for s in sensors})),
            "devices": ", ".join(sorted({s.device for s in sensors if s.device})) or "—",
            "update_period": "—" if not periods else f"{statistics.median(periods) * 1000:.0f} ms",
            "rate": "—" if not rates else f"{statistics.median(rates):.1f} Hz",
            "uncertainty": "not stated" if not rel else
            f"median ±{statistics.median(rel):.2%}, max ±{max(rel):.2%} (worst-case bound)",
            "partial": sum(s.partial for s in sensors),
            "unmeasured": sum(s.energy_j is None for s in sensors),
        })
    return out


# validity -------------------------------------------------------------------------------------------
def _validity(analysis: Analysis, inputs: ReportInputs) -> dict[str, Any]:
    v = analysis.validity
    statuses = Counter(r.status for r in analysis.records)
    unmeasured = Counter(r.energy.reason or "no reason given" for r in v.valid if not r.energy.available)
    return {
        "total": v.total, "valid": len(v.valid), "excluded": len(v.excluded),
        "statuses": dict(sorted(statuses.items())),
        "reasons": v.reasons().most_common(),
        "rows": [x.__dict__ for x in v.excluded],
        "energy_rows": [x.__dict__ for x in v.energy_excluded],
        "energy_unmeasured": unmeasured.most_common(),
        "reused": list(inputs.reused),
    }


# groups ---------------------------------------------------------------------------------------------
def _cell(s: Summary | None, q: Quantity, spread: RunSpread | None = None) -> dict[str, Any]:
    if s is None:
        return {"mean": fmt.NOT_MEASURED if q.kind == "energy" else "—", "missing": True}
    low = None if s.ci95_low is None else max(s.ci95_low, 0.0) if q.nonnegative else s.ci95_low
    ci = "n = 1: no spread" if low is None else \
        f"95% CI [{fmt.quantity(low, q)}, {fmt.quantity(s.ci95_high, q)}], SD {fmt.quantity(s.std, q, 3)}"
    if low is None and s.n == 1 and spread is not None:  # a single run: the workload's measured spread
        lo, hi = spread.interval(s.mean)
        lo = max(lo, 0.0) if q.nonnegative else lo
        ci = f"n = 1: 95% interval [{fmt.quantity(lo, q)}, {fmt.quantity(hi, q)}] {spread.label()}"
    bound = None
    if q.kind == "energy":
        bound = "measurement bound unknown" if s.bound is None else f"measurement ±{fmt.quantity(s.bound, q, 2)}"
    return {"mean": fmt.quantity(s.mean, q), "n": s.n, "ci": ci, "bound": bound, "missing": False}


def _group(g: GroupAnalysis, draw: bool = True) -> dict[str, Any]:
    front_keys = {p.setting.key_hash for f in g.fronts for p in f.points if p.on_front}
    energies = g.energies
    others = [q for q in g.quantities if q.kind != "energy"]
    settings = [{
        "name": s.name, "key": s.key_hash[:10], "n": s.n_runs, "reference": s.is_reference,
        "on_front": s.key_hash in front_keys, "joint": s.key_hash in g.joint_front,
        "labels": ", ".join(s.labels), "energy_excluded": s.energy_excluded,
        "values": ", ".join(f"{k}={v}" for k, v in sorted(s.hyperparameters.items()) if k in g.hyperparameters),
        "energy": [_cell(s.get(q), q, g.spreads.get(q.key)) for q in energies],
        "other": [_cell(s.get(q), q, g.spreads.get(q.key)) for q in others],
    } for s in g.settings]
    correlations = sorted(g.correlations, key=lambda c: (-abs(c.rho), c.hyperparameter, c.quantity.key))
    headline = g.headline
    changes = [{
        "setting": c.setting.name,
        "what": "; ".join(ch.text() for ch in c.changes) or "—",
        "deltas": [_delta(c.delta(q)) for q in headline],
        "summary": c.text(headline),
    } for c in g.changes]
    fronts = [{
        "metric": f.metric, "goal": f.goal, "arrow": "↑" if f.goal == "max" else "↓",
        "energy": f.energy.label,
        "per_point": any(p.energy_per_point_j is not None for p in f.points),
        "missing": list(f.missing),
        "rows": [{
            "setting": p.setting.name, "energy": fmt.si(p.energy_j, "J"), "metric": fmt.plain(p.metric),
            "per_point": fmt.si(p.energy_per_point_j, "J"), "on_front": p.on_front,
            "dominated_by": ", ".join(p.dominated_by[:3]) + (" …" if len(p.dominated_by) > 3 else ""),
        } for p in sorted(f.points, key=lambda p: (not p.on_front, p.energy_j))],
    } for f in g.fronts]
    drawers = (plots.energy_vs_metric, plots.hyperparameter_panels, plots.attribution_bars) if draw else ()
    figures = [p for draw_one in drawers if (p := draw_one(g)) is not None]
    return {
        "title": g.key.title, "slug": g.key.slug, "mode": g.key.mode, "runs": len(g.records), "on_gpu": not cpu_only(g.records),
        "n_settings": len(g.settings), "energy": g.energy.label if g.energy else None,
        "energy_phase": g.energy is not None and g.energy.key.startswith("phase:"),
        "unphased": sum(r.phases is None or not r.phases.marked for r in g.records),
        "energy_heads": [q.label for q in energies], "other_heads": [q.label for q in others],
        "headline": [q.label for q in headline], "settings": settings,
        "hyperparameters": g.hyperparameters, "reference": g.reference.name if g.reference else None,
        "correlations": [{
            "hp": c.hyperparameter, "quantity": c.quantity.label, "n": c.n, "rho": f"{c.rho:+.2f}".replace("-", "−"),
            "p": fmt.p_value(c.p_value), "significant": c.p_value < 0.05,
        } for c in correlations],
        "changes": changes, "fronts": fronts,
        "goals": {m: (goal or "unknown") for m, goal in g.goals.items()},
        "figures": figures, "figures_omitted": not draw,
    }


def _delta(d: Any) -> dict[str, Any] | None:
    if d is None:
        return None
    text = d.text().removeprefix(d.quantity.label).strip()
    return {"text": text, "p": fmt.p_value(d.p_value), "significant": d.p_value is not None and d.p_value < 0.05}


# timelines ------------------------------------------------------------------------------------------
def _timelines(analysis: Analysis, inputs: ReportInputs) -> list[plots.Plot]:
    """A representative run per group (median energy) in detail, then every run of each workload and
    mode overlaid (at most MAX_OVERLAID_RUNS runs in all; the figures say what is left out)."""
    if inputs.results_dir is None or inputs.max_timelines <= 0:
        return []
    results_dir = inputs.results_dir
    ordered = [r for g in analysis.groups if (r := _representative(g)) is not None]
    out: list[plots.Plot] = []
    for r in ordered[: inputs.max_timelines]:
        df = read_timeline(timeline_path(results_dir, r))
        if df is not None:
            out.append(plots.power_timeline(r, df))
    by_group: dict[tuple[str, str], list[ExperimentRecord]] = {}
    for r in sorted(analysis.records, key=lambda r: (r.session_id, r.slot)):
        by_group.setdefault((r.workload, r.mode), []).append(r)
    budget = MAX_OVERLAID_RUNS
    for (workload, mode), records in by_group.items():
        drawn: list[tuple[ExperimentRecord, pd.DataFrame]] = []
        missing: list[ExperimentRecord] = []
        for r in records:
            df = read_timeline(timeline_path(results_dir, r)) if budget > len(drawn) else None
            if df is not None:
                drawn.append((r, df))
            else:
                missing.append(r)
        budget -= len(drawn)
        if drawn:
            out += plots.run_timelines(f"{workload} ({mode})", drawn, missing)
    return out


def _representative(g: GroupAnalysis) -> ExperimentRecord | None:
    """The run with the median energy of the group (the first run when energy was not measured)."""
    if g.energy is None:
        return g.records[0] if g.records else None
    energy = g.energy
    measured = [(v, r) for r in g.records if (v := measure(r, energy)[0]) is not None]
    measured.sort(key=lambda pair: pair[0])
    return measured[len(measured) // 2][1] if measured else None


# method ---------------------------------------------------------------------------------------------
def _method(records: Sequence[ExperimentRecord]) -> dict[str, Any]:
    unavailable = Counter(f"{name}: {why}" for r in records for name, why in r.energy.unavailable_sensors.items())
    attributed = any(r.energy.attribution is not None for r in records)
    notes = sorted({r.energy.attribution.note for r in records if r.energy.attribution and r.energy.attribution.note})
    return {"unavailable": unavailable.most_common(), "attributed": attributed, "attribution_notes": notes}
