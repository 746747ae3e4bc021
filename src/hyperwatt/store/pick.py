"""Which session a command means — the one named, or the latest — and which record of each slot counts."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hyperwatt.errors import ConfigError
from hyperwatt.records import ExperimentRecord
from hyperwatt.store.db import DB_NAME, SessionRow, Store
from hyperwatt.words import command


def pick_session(store: Store, session_id: str | None, results_dir: Path, key: str = "session") -> SessionRow:
    """The named session, or the latest one when `session_id` is None; a ConfigError that says how to
    list the sessions otherwise."""
    db = Path(results_dir) / DB_NAME
    sessions = store.sessions()
    if not sessions:
        raise ConfigError(db, key, f"the store holds no session yet; run a plan first "
                          f"(`{command('run', 'PLAN', results_dir=results_dir)}`)")
    if session_id is None:
        return sessions[-1]
    row = store.session(session_id)
    if row is None:
        recent = ", ".join(s.session_id for s in sessions[-3:])
        raise ConfigError(db, key, f"no session {session_id!r}; recent: {recent}; list them all with "
                          f"`{command('status', results_dir=results_dir)}`")
    return row


def final_records(records: Sequence[ExperimentRecord]) -> tuple[list[ExperimentRecord], list[ExperimentRecord]]:
    """(the record that counts for each slot, the superseded ones): an interrupted experiment that ran
    again is superseded by its rerun (the latest start wins); a record still running counts for nothing."""
    latest: dict[int, ExperimentRecord] = {}
    for r in records:
        if r.status == "running":
            continue
        held = latest.get(r.slot)
        if held is None or (r.started_wall or 0.0) >= (held.started_wall or 0.0):
            latest[r.slot] = r
    finals = sorted(latest.values(), key=lambda r: r.slot)
    superseded = [r for r in records if r.status != "running" and latest.get(r.slot) is not r]
    return finals, superseded
