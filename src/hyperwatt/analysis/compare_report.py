"""`hyperwatt compare A B`: select both sides from the store, compare, and write compare.html and its JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jinja2
from matplotlib.figure import Figure

from hyperwatt import __version__
from hyperwatt.analysis import formatting as fmt
from hyperwatt.analysis.command import session_registry
from hyperwatt.analysis.compare import Comparison, compare, comparison_json, select
from hyperwatt.analysis.findings import json_safe
from hyperwatt.analysis.goals import registry_goals
from hyperwatt.analysis.plots import Plot, _png
from hyperwatt.analysis.report import write_report
from hyperwatt.analysis.rows import registry_defaults, registry_metric_order
from hyperwatt.store import atomic_write_text, existing_store, open_store

HEADER = ("workload · mode", "setting", "runs A/B", "energy A", "energy B", "energy change B/A", "metric",
          "metric A", "metric B", "metric B − A")
MAX_PLOTTED = 40


@dataclass
class CompareResult:
    comparison: Comparison
    rows: list[list[str]]
    html: Path
    json: Path


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1%}".replace("-", "−")


def table_rows(c: Comparison) -> list[list[str]]:
    rows = []
    for m in c.matched:
        change, lo, hi = m.energy_change
        metric, _ = c.metrics.get(f"{m.workload} · {m.mode}", ("—", None))
        mdiff = "—"
        if m.metric is not None:
            mdiff = fmt.plain(m.metric.diff, 3) + ("" if m.metric.low is None else
                                                  f" [{fmt.plain(m.metric.low, 3)}, {fmt.plain(m.metric.high, 3)}]")
        rows.append([
            f"{m.workload} · {m.mode}", m.setting, f"{m.a.n}/{m.b.n}", fmt.si(m.a.energy.mean, "J"),
            fmt.si(m.b.energy.mean, "J"), _pct(change) + ("" if lo is None else f" [{_pct(lo)}, {_pct(hi)}]"),
            metric, fmt.plain(m.a.metric.mean if m.a.metric else None), fmt.plain(m.b.metric.mean if m.b.metric else None),
            mdiff,
        ])
    return rows


def change_plot(c: Comparison) -> Plot | None:
    """Energy change B/A − 1 per matched setting with its 95% interval."""
    shown = c.matched[:MAX_PLOTTED]
    if not shown:
        return None
    fig = Figure(figsize=(7.5, max(2.2, 0.32 * len(shown) + 1.2)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    xs = [100 * m.energy_change[0] for m in shown]
    lo = [x - 100 * m.energy_change[1] if m.energy_change[1] is not None else 0.0 for x, m in zip(xs, shown)]
    hi = [100 * m.energy_change[2] - x if m.energy_change[2] is not None else 0.0 for x, m in zip(xs, shown)]
    ax.errorbar(xs, range(len(shown)), xerr=[lo, hi], fmt="o", ms=4, capsize=2, lw=0.9)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_yticks(range(len(shown)), [f"{m.workload} · {m.mode}: {m.setting}" for m in shown], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("energy change, B relative to A (%)", fontsize=8)
    ax.tick_params(labelsize=7)
    more = len(c.matched) - len(shown)
    return Plot("energy change per matched setting", "B / A − 1 of mean energy; bars: 95% Welch interval (none when a "
                "side was measured once)." + (f" {more} more setting(s) in the table." if more > 0 else ""), _png(fig))


def compare_command(a: str, b: str, results_dir: Path, out: Path | None = None) -> CompareResult:
    """Compare two sessions or filters of the store at `results_dir`; write compare.html and compare.json."""
    results_dir = Path(results_dir)
    db = existing_store(results_dir)  # a missing folder or store: one line saying which
    store = open_store(results_dir, readonly=True)
    try:
        sessions = [s.session_id for s in store.sessions()]
        records = store.experiments()
    finally:
        store.close()
    side_a, side_b = select(records, sessions, a, str(db)), select(records, sessions, b, str(db))
    ids = sorted({r.session_id for r in side_a + side_b})
    registry = session_registry(results_dir, ids)
    c = compare(side_a, side_b, registry_defaults(registry), registry_goals(registry), a, b,
                registry_metric_order(registry))
    rows = table_rows(c)
    env = jinja2.Environment(loader=jinja2.PackageLoader("hyperwatt.analysis", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    html = env.get_template("compare.html.j2").render(
        title=f"hyperwatt compare — {a} vs {b}", version=__version__, a=a, b=b, verdict=c.verdict,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        methods_a=_methods(c.methods_a), methods_b=_methods(c.methods_b), mixed=c.mixed_methods, notes=c.notes,
        only_a=c.only_a, only_b=c.only_b, figure=change_plot(c), header=HEADER, rows=rows)
    path = write_report(out if out is not None else results_dir / "compare.html", html)
    json_path = path.with_suffix(".json")
    atomic_write_text(json_path, json.dumps(json_safe(comparison_json(c)), indent=2, ensure_ascii=False) + "\n")
    return CompareResult(c, rows, path, json_path)


def _methods(counts: dict[str, int]) -> str:
    return ", ".join(f"{m} ×{n}" for m, n in sorted(counts.items())) or "none"
