"""`hyperwatt report [SESSION] [--all] [--out FILE]`: analyse stored experiments and write the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from hyperwatt.analysis.analyse import Analysis, analyse
from hyperwatt.analysis.goals import GoalLookup, registry_goals
from hyperwatt.analysis.report import ReportInputs, render_report, write_report
from hyperwatt.analysis.summary import summary_text
from hyperwatt.config import Registry
from hyperwatt.config.files import read_toml
from hyperwatt.errors import ConfigError, HyperwattError
from hyperwatt.records import ExperimentRecord
from hyperwatt.store import DB_NAME, SessionLayout, SessionRow, Store, open_store


def report_command(session: str | None, results_dir: Path, out: Path | None, all_sessions: bool,
                   echo: Callable[[str], None] | None = None) -> Path:
    """Write the report of one session (default: the latest) or of all sessions; return its path.

    `echo`, when given, receives the console summary (`summary_text`) and nothing else.
    """
    results_dir = Path(results_dir)
    if session is not None and all_sessions:
        raise ConfigError(None, "--all", "give a session id or --all, not both")
    db = results_dir / DB_NAME
    if not db.exists():
        raise ConfigError(db, None, "no results store here; run a plan first or pass --results-dir")
    store = open_store(results_dir, readonly=True)
    try:
        sessions = store.sessions()
        if all_sessions:
            chosen, records, reused = sessions, store.experiments(), list[ExperimentRecord]()
            title = f"hyperwatt report — all sessions in {results_dir}"
            default_out = results_dir / "report.html"
        else:
            row = _pick(store, sessions, session, db)
            records, reused = _session_records(store, row.session_id)
            chosen = [row]
            title = f"hyperwatt report — session {row.session_id} (plan {row.name})"
            default_out = SessionLayout(results_dir, row.session_id).report
    finally:
        store.close()
    analysis = analyse(records, session_goals(results_dir, [row.session_id for row in chosen]))
    html = render_report(analysis, ReportInputs(title=title, sessions=chosen, results_dir=results_dir,
                                                reused=[r.experiment_id for r in reused]))
    path = write_report(out if out is not None else default_out, html)
    if echo is not None:
        echo(_console_summary(analysis, title, path))
    return path


def _pick(store: Store, sessions: list[SessionRow], session: str | None, db: Path) -> SessionRow:
    if not sessions:
        raise ConfigError(db, "session", "the store holds no session yet; run a plan first")
    if session is None:
        return sessions[-1]
    row = store.session(session)
    if row is None:
        known = ", ".join(s.session_id for s in sessions[-5:])
        raise ConfigError(db, "session", f"no session {session!r}; recent sessions: {known}")
    return row


def _session_records(store: Store, session_id: str) -> tuple[list[ExperimentRecord], list[ExperimentRecord]]:
    """The session's experiments plus the valid ones of earlier sessions its skipped slots stand for."""
    own = store.experiments(session_id)
    skipped = {s.key_hash for s in store.slots(session_id) if s.skip_reason}
    if not skipped:
        return own, []
    reused = [r for r in store.experiments() if r.session_id != session_id and r.key_hash in skipped and r.valid]
    return own + reused, reused


def _console_summary(analysis: Analysis, title: str, path: Path) -> str:
    return f"{title}\n{summary_text(analysis)}\n\nreport: {path}"


def session_goals(results_dir: Path, session_ids: list[str]) -> GoalLookup:
    """Metric goals from the workloads the sessions declared (inlined in each saved plan.toml), over
    the built-ins; a saved plan that no longer reads adds nothing (name heuristics remain)."""
    registry = Registry.builtin()
    for session_id in session_ids:
        plan = SessionLayout(results_dir, session_id).plan
        if not plan.exists():
            continue
        try:
            registry.add_tables(read_toml(plan).get("workloads", {}), plan, source_label=str(plan))
        except HyperwattError:
            continue
    return registry_goals(registry)
