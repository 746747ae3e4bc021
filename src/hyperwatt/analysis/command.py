"""`hyperwatt report [SESSION...] [--workload W] [--all]`: analyse stored experiments, write report.html and findings.json."""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from hyperwatt.analysis.analyse import Analysis, analyse
from hyperwatt.analysis.carbon import resolve
from hyperwatt.analysis.findings import Findings, FindingsOptions, findings
from hyperwatt.analysis.goals import GoalLookup, registry_goals
from hyperwatt.analysis.greener import DEFAULT_SAVING, DEFAULT_TOLERANCE
from hyperwatt.analysis.report import ReportInputs, render_report, write_report
from hyperwatt.analysis.rows import registry_defaults, registry_metric_order
from hyperwatt.analysis.search_study import search_studies
from hyperwatt.analysis.summary import summary_text
from hyperwatt.config import Registry
from hyperwatt.config.files import read_toml
from hyperwatt.errors import ConfigError, HyperwattError
from hyperwatt.records import ExperimentRecord
from hyperwatt.store import SessionLayout, Store, atomic_write_text, existing_store, open_store
from hyperwatt.store.pick import final_records, pick_session
from hyperwatt.words import plural


@dataclass(frozen=True)
class FindingsArgs:
    """The findings' settings as given on the command line (validated by `options`)."""

    saving: float = DEFAULT_SAVING
    tolerance: float = DEFAULT_TOLERANCE
    split_methods: bool = False
    targets: tuple[str, ...] = ()  # METRIC=VALUE
    carbon_intensity: float | None = None
    pue: float | None = None

    def options(self, plans: Sequence[tuple[Path, dict[str, Any]]]) -> FindingsOptions:
        if not (math.isfinite(self.saving) and 0 < self.saving < 1):
            raise ConfigError("<command line>", "--saving", f"{self.saving:g} is not a fraction in (0, 1), e.g. 0.1")
        if not (math.isfinite(self.tolerance) and 0 <= self.tolerance < 1):
            raise ConfigError("<command line>", "--tolerance", f"{self.tolerance:g} is not a fraction in [0, 1)")
        targets = {}
        for item in self.targets:
            name, sep, raw = item.partition("=")
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not sep or not name.strip() or not math.isfinite(value):
                raise ConfigError("<command line>", "--target", f"{item!r} is not METRIC=NUMBER, e.g. test_accuracy=0.9")
            targets[name.strip()] = value
        return FindingsOptions(self.saving, self.tolerance, self.split_methods, targets,
                               resolve(self.carbon_intensity, self.pue, plans))


def report_command(session: str | Sequence[str] | None, results_dir: Path, out: Path | None, all_sessions: bool,
                   echo: Callable[[str], None] | None = None, workloads: Sequence[str] = (),
                   args: FindingsArgs | None = None) -> Path:
    """Write the report of sessions (default: the latest; `--all`: every one), and findings.json beside it.

    `workloads`: only these workloads (shell patterns such as `examples/*`). `echo`, when given,
    receives the console summary and the findings' verdicts.
    """
    results_dir = Path(results_dir)
    wanted = [session] if isinstance(session, str) else list(session or [])
    if wanted and all_sessions:
        raise ConfigError(None, "--all", "give session ids or --all, not both")
    db = existing_store(results_dir)
    store = open_store(results_dir, readonly=True)
    try:
        sessions = store.sessions()
        reused = list[ExperimentRecord]()
        if all_sessions:
            records = [r for s in sessions for r in final_records(store.experiments(s.session_id))[0]]
            chosen = sessions
            title = f"hyperwatt report — all sessions in {results_dir}"
            default_out = results_dir / "report.html"
        elif len(wanted) > 1:
            chosen = [pick_session(store, sid, results_dir) for sid in dict.fromkeys(wanted)]
            records = [r for row in chosen for r in final_records(store.experiments(row.session_id))[0]]
            title = f"hyperwatt report — sessions {', '.join(row.session_id for row in chosen)}"
            default_out = results_dir / "report.html"
        else:
            row = pick_session(store, wanted[0] if wanted else None, results_dir)
            records, reused = _session_records(store, row.session_id)
            chosen = [row]
            title = f"hyperwatt report — session {row.session_id} (plan {row.name})"
            default_out = SessionLayout(results_dir, row.session_id).report
    finally:
        store.close()
    if workloads:
        known = sorted({r.workload for r in records})
        records = [r for r in records if any(fnmatch.fnmatchcase(r.workload, w) for w in workloads)]
        if not records:
            raise ConfigError(db, "--workload", f"no experiment of {', '.join(workloads)}; the sessions hold: "
                              f"{', '.join(known) or 'none'}")
        title += f" — workloads {', '.join(workloads)}"
    ids = [row.session_id for row in chosen]
    registry = session_registry(results_dir, ids)
    goals = registry_goals(registry)
    answers = findings(records, registry_defaults(registry), goals,
                       (args or FindingsArgs()).options(_carbon_tables(results_dir, ids)), results_dir,
                       registry_metric_order(registry))
    analysis = analyse(records, goals)
    searches = search_studies(results_dir, {r.experiment_id for r in records})
    html = render_report(analysis, ReportInputs(title=title, sessions=chosen, results_dir=results_dir,
                                                reused=[r.experiment_id for r in reused], findings=answers,
                                                searches=searches))
    path = write_report(out if out is not None else default_out, html)
    json_path = findings_path(path)
    sources = {"sessions": ids, "workloads": list(workloads), "report": path.name}
    try:
        atomic_write_text(json_path, json.dumps(answers.to_json(sources), indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise HyperwattError(f"{json_path}: cannot write the findings ({exc.strerror or exc})") from None
    if echo is not None:
        echo(_console_summary(analysis, answers, title, path, json_path))
    return path


def findings_path(report: Path) -> Path:
    """findings.json beside report.html (`<name>.findings.json` beside any other name)."""
    return report.with_name("findings.json" if report.stem == "report" else f"{report.stem}.findings.json")


def _carbon_tables(results_dir: Path, session_ids: list[str]) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for sid in session_ids:
        plan = SessionLayout(results_dir, sid).plan
        try:
            table = read_toml(plan).get("carbon") if plan.exists() else None
        except HyperwattError:
            continue
        if isinstance(table, dict):
            out.append((plan, table))
    return out


def _session_records(store: Store, session_id: str) -> tuple[list[ExperimentRecord], list[ExperimentRecord]]:
    """The session's experiments (a rerun's, not the interrupted run it superseded) plus the valid ones
    of earlier sessions its skipped slots stand for."""
    own, _ = final_records(store.experiments(session_id))
    skipped = {s.key_hash for s in store.slots(session_id) if s.skip_reason}
    if not skipped:
        return own, []
    reused = [r for r in store.experiments() if r.session_id != session_id and r.key_hash in skipped and r.valid]
    return own + reused, reused


def _console_summary(analysis: Analysis, answers: Findings, title: str, path: Path, json_path: Path) -> str:
    verdicts = "\n".join(f"{k}: {v}" for k, v in answers.verdicts().items())
    once = [g for g in analysis.groups if g.hyperparameters and any(s.n_runs < 2 for s in g.settings)]
    head = "findings:" if not once else (
        f"findings (in {plural(len(once), 'group')}, settings ran once: their run-to-run spread is unknown, "
        "so read what follows as observations, not effects):")
    return f"{title}\n{summary_text(analysis)}\n\n{head}\n{verdicts}\n\nreport: {path}\nfindings: {json_path}"


def session_goals(results_dir: Path, session_ids: list[str]) -> GoalLookup:
    """Metric goals from the workloads the sessions declared, over the built-ins (see `session_registry`)."""
    return registry_goals(session_registry(results_dir, session_ids))


def session_registry(results_dir: Path, session_ids: list[str]) -> Registry:
    """The built-in workloads plus those the sessions declared (inlined in each saved plan.toml); a saved
    plan that no longer reads adds nothing (name heuristics remain for goals)."""
    registry = Registry.builtin()
    for session_id in session_ids:
        plan = SessionLayout(results_dir, session_id).plan
        if not plan.exists():
            continue
        try:
            registry.add_tables(read_toml(plan).get("workloads", {}), plan, source_label=str(plan))
        except HyperwattError:
            continue
    return registry
