"""The SQLite store: sessions, experiments, attempts and background runs (WAL, one transaction per write)."""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import sys
import threading
import urllib.parse
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from pydantic import ValidationError

from hyperwatt.errors import ConfigError, DiskFullError, StoreError
from hyperwatt.records import ExperimentRecord
from hyperwatt.store.diskfull import filesystem, is_disk_full

DB_NAME = "hyperwatt.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan_path TEXT NOT NULL,
    plan_hash TEXT NOT NULL,
    results_dir TEXT NOT NULL,
    started_wall REAL NOT NULL,
    ended_wall REAL,
    status TEXT NOT NULL,
    planned INTEGER NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS experiments (
    experiment_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id),
    slot INTEGER NOT NULL,
    workload TEXT NOT NULL,
    mode TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    label TEXT NOT NULL,
    repeat_index INTEGER NOT NULL,
    status TEXT NOT NULL,
    started_wall REAL,
    ended_wall REAL,
    duration_s REAL,
    gpu_energy_j REAL,
    cpu_energy_j REAL,
    total_energy_j REAL,
    valid INTEGER NOT NULL,
    record_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS experiments_by_key ON experiments(key_hash, status);
CREATE INDEX IF NOT EXISTS experiments_by_session ON experiments(session_id, slot);
CREATE TABLE IF NOT EXISTS slots (
    session_id TEXT NOT NULL REFERENCES sessions(session_id),
    slot INTEGER NOT NULL,
    key_hash TEXT NOT NULL,
    workload TEXT NOT NULL,
    label TEXT NOT NULL,
    skip_reason TEXT,
    PRIMARY KEY (session_id, slot)
);
CREATE TABLE IF NOT EXISTS attempts (
    experiment_id TEXT NOT NULL REFERENCES experiments(experiment_id),
    number INTEGER NOT NULL,
    started_wall REAL NOT NULL,
    ended_wall REAL,
    duration_s REAL,
    exit_code INTEGER,
    timed_out INTEGER NOT NULL,
    log TEXT NOT NULL,
    PRIMARY KEY (experiment_id, number)
);
CREATE TABLE IF NOT EXISTS background_runs (
    experiment_id TEXT NOT NULL REFERENCES experiments(experiment_id),
    idx INTEGER NOT NULL,
    started_wall REAL NOT NULL,
    ended_wall REAL,
    exit_code INTEGER,
    log TEXT NOT NULL,
    stopped_by_us INTEGER NOT NULL,
    effective INTEGER NOT NULL,
    PRIMARY KEY (experiment_id, idx)
);
"""

#: Each table's columns, from the schema: an existing store must have them all.
_COLUMNS = {
    table: {line.split()[0] for line in body.splitlines()
            if line.strip() and not line.strip().startswith(("PRIMARY", "FOREIGN"))}
    for table, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", _SCHEMA, re.S)
}
_F = TypeVar("_F", bound=Callable[..., Any])


def _store_errors(method: _F) -> _F:
    """sqlite errors (locked, read-only, malformed) as one-line StoreErrors naming the file."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            if is_disk_full(exc, self.path.parent):
                raise DiskFullError(self.path, f"the file system is full ({exc})") from None
            raise StoreError(self.path, _reason(exc)) from None

    return wrapper  # type: ignore[return-value]


def _reason(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return (f"the results store is damaged or not an SQLite file ({text}); move it away or pass "
                "another --results-dir")
    if "readonly" in text or "read-only" in text:
        return f"the results store is read-only ({text}); pass a writable --results-dir"
    if "unable to open" in text:
        return f"the results store cannot be opened ({text}): is it a folder, or is its folder unwritable?"
    return f"results store error: {text}"


@dataclass
class SessionRow:
    session_id: str
    name: str
    plan_path: str
    plan_hash: str
    results_dir: str
    started_wall: float
    status: str
    planned: int
    host: str
    pid: int
    version: str
    ended_wall: float | None = None


_SESSION_COLUMNS = ", ".join(f.name for f in fields(SessionRow))


@dataclass
class SlotRow:
    """One planned experiment of a session; `skip_reason` set when dedup skipped it."""

    slot: int
    key_hash: str
    workload: str
    label: str
    skip_reason: str | None = None


class Store:
    """One SQLite file; safe to use from several threads of one process. `readonly` opens it for
    reading only (status, plan, report, export), which also works in a read-only results folder."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        #: experiment id -> why its stored record does not read (skipped by every query)
        self.unreadable: dict[str, str] = {}
        #: where a skipped record is reported (one line each; stderr by default)
        self.warn: Callable[[str], None] = _warn
        if self.path.is_dir():
            raise StoreError(self.path, "is a folder, not the results store file; pass another --results-dir")
        try:
            if readonly:
                self._db = self._connect_readonly()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._check_schema()
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("PRAGMA foreign_keys=ON")
                with self._lock:
                    self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            if is_disk_full(exc, self.path.parent):
                raise DiskFullError(self.path, f"the file system {filesystem(self.path.parent)} is full ({exc}); "
                                    "free space, then run the command again") from None
            raise StoreError(self.path, _reason(exc)) from None
        except OSError as exc:
            raise StoreError(self.path.parent, f"cannot create the results folder ({exc.strerror or exc})") from None

    def _connect_readonly(self) -> sqlite3.Connection:
        uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False, isolation_level=None)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError as exc:
            # a WAL store in a read-only folder: its -shm file cannot be made; nobody can write there
            # either, so reading the file as immutable is safe (never for a store that is merely busy)
            db.close()
            if "readonly" not in str(exc) and os.access(self.path.parent, os.W_OK):
                raise
            return sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False, isolation_level=None)

    def _check_schema(self) -> None:
        """A store from hyperwatt, or an empty file; never add our tables to someone else's database."""
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "sessions" not in tables:
            raise StoreError(self.path, f"not a hyperwatt results store (it holds tables {', '.join(sorted(tables))}); "
                             "pass another --results-dir")
        for table, columns in _COLUMNS.items():
            if table in tables:
                have = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
                if columns - have:
                    raise StoreError(self.path, f"not a results store this hyperwatt can read: table {table} "
                                     f"lacks {', '.join(sorted(columns - have))}; pass another --results-dir")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # sessions ---------------------------------------------------------------------------------
    @_store_errors
    def begin_session(self, row: SessionRow) -> None:
        fields = asdict(row)
        cols = ", ".join(fields)
        marks = ", ".join(f":{k}" for k in fields)
        with self._tx() as db:
            db.execute(f"INSERT INTO sessions ({cols}) VALUES ({marks})", fields)

    @_store_errors
    def update_session(self, session_id: str, **changes: object) -> None:
        allowed = {"status", "ended_wall", "pid", "host"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"can only update {sorted(allowed)}")
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        with self._tx() as db:
            db.execute(f"UPDATE sessions SET {sets} WHERE session_id = :sid", {**changes, "sid": session_id})

    @_store_errors
    def session(self, session_id: str) -> SessionRow | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = ?",
                                   (session_id,)).fetchone()
        return SessionRow(**dict(row)) if row else None

    @_store_errors
    def sessions(self) -> list[SessionRow]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY started_wall").fetchall()
        return [SessionRow(**dict(r)) for r in rows]

    # planned slots ----------------------------------------------------------------------------
    @_store_errors
    def save_slots(self, session_id: str, slots: Iterable[SlotRow]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT INTO slots VALUES (?, ?, ?, ?, ?, ?)",
                [(session_id, s.slot, s.key_hash, s.workload, s.label, s.skip_reason) for s in slots],
            )

    @_store_errors
    def slots(self, session_id: str) -> list[SlotRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT slot, key_hash, workload, label, skip_reason FROM slots WHERE session_id = ? ORDER BY slot",
                (session_id,),
            ).fetchall()
        return [SlotRow(**dict(r)) for r in rows]

    # experiments ------------------------------------------------------------------------------
    @_store_errors
    def save_experiment(self, record: ExperimentRecord) -> None:
        """Insert or replace the experiment with its attempts and background runs, atomically."""
        with self._tx() as db:
            _write_experiment(db, record)

    @_store_errors
    def save_imported(self, sessions: Iterable[tuple[SessionRow, list[ExperimentRecord]]]) -> None:
        """Imported sessions (each created if new) and their experiments, in one transaction: all or nothing."""
        with self._tx() as db:
            for session, records in sessions:
                fields = asdict(session)
                cols = ", ".join(fields)
                marks = ", ".join(f":{k}" for k in fields)
                db.execute(f"INSERT OR IGNORE INTO sessions ({cols}) VALUES ({marks})", fields)
                for record in records:
                    _write_experiment(db, record)
                db.execute("UPDATE sessions SET planned = (SELECT COUNT(*) FROM experiments WHERE session_id = :sid),"
                           " ended_wall = :t WHERE session_id = :sid",
                           {"sid": session.session_id, "t": session.ended_wall})

    @_store_errors
    def existing_ids(self, experiment_ids: Iterable[str]) -> set[str]:
        """Which of these experiment ids the store already holds."""
        ids = sorted(set(experiment_ids))
        out: set[str] = set()
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                out |= {r[0] for r in self._db.execute(
                    f"SELECT experiment_id FROM experiments WHERE experiment_id IN ({marks})", chunk)}
        return out

    @_store_errors
    def experiments(self, session_id: str | None = None) -> list[ExperimentRecord]:
        query = "SELECT experiment_id, record_json FROM experiments"
        args: tuple[object, ...] = ()
        if session_id is not None:
            query += " WHERE session_id = ?"
            args = (session_id,)
        query += " ORDER BY started_wall IS NULL, started_wall, slot"
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return self._records(rows)

    @_store_errors
    def experiment(self, experiment_id: str) -> ExperimentRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT experiment_id, record_json FROM experiments WHERE experiment_id = ?", (experiment_id,)
            ).fetchone()
        return self._record(row) if row else None

    @_store_errors
    def succeeded_counts(self, key_hashes: Iterable[str]) -> dict[str, int]:
        """How many valid, succeeded experiments the store holds per key (for dedup)."""
        keys = sorted(set(key_hashes))
        out = {k: 0 for k in keys}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                for row in self._db.execute(
                    f"SELECT key_hash, COUNT(*) FROM experiments WHERE status = 'succeeded' AND valid = 1 "
                    f"AND key_hash IN ({marks}) GROUP BY key_hash", chunk,
                ):
                    out[row[0]] = row[1]
        return out

    @_store_errors
    def imported_counts(self, key_hashes: Iterable[str]) -> dict[str, int]:
        """How many valid, succeeded experiments of imported sessions the store holds per key."""
        keys = sorted(set(key_hashes))
        out = dict.fromkeys(keys, 0)
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                for row in self._db.execute(
                    f"SELECT e.key_hash, COUNT(*) FROM experiments e JOIN sessions s ON s.session_id = e.session_id "
                    f"WHERE s.status = 'imported' AND e.status = 'succeeded' AND e.valid = 1 "
                    f"AND e.key_hash IN ({marks}) GROUP BY e.key_hash", chunk,
                ):
                    out[row[0]] = row[1]
        return out

    @_store_errors
    def durations(self, workload: str, exclude_session: str | None = None
                  ) -> list[tuple[float, dict[str, Any], str, str | None]]:
        """Past trainings of a workload that ran to the end (for ETAs): duration, hyperparameters,
        mode and background workload, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT duration_s, json_extract(record_json, '$.hyperparameters'), mode, "
                "json_extract(record_json, '$.background.workload') FROM experiments "
                "WHERE workload = ? AND status IN ('succeeded', 'invalid') AND duration_s IS NOT NULL "
                "AND session_id IS NOT ? ORDER BY started_wall", (workload, exclude_session),
            ).fetchall()
        out = []
        for duration, params, mode, background in rows:
            try:
                values = json.loads(params) if params else {}
            except ValueError:
                values = {}
            out.append((float(duration), values if isinstance(values, dict) else {}, mode, background))
        return out

    @_store_errors
    def running(self, session_id: str) -> list[ExperimentRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT experiment_id, record_json FROM experiments WHERE session_id = ? AND status = 'running'",
                (session_id,),
            ).fetchall()
        return self._records(rows)

    def _record(self, row: sqlite3.Row) -> ExperimentRecord | None:
        """The stored record; None when it does not read (any cause), reported once and skipped,
        so one bad record never takes a command down."""
        try:
            return ExperimentRecord.model_validate_json(row["record_json"])
        except (ValueError, TypeError, RecursionError) as err:  # pydantic's ValidationError is a ValueError
            if isinstance(err, ValidationError) and err.errors():
                first = err.errors()[0]
                why = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            else:
                why = str(err) or type(err).__name__
            eid = row["experiment_id"]
            if eid not in self.unreadable:
                self.unreadable[eid] = why
                self.warn(f"{self.path}: experiment {eid}: its stored record does not read ({why}); skipped "
                          f"(its files are in its session folder)")
            return None

    def _records(self, rows: Iterable[sqlite3.Row]) -> list[ExperimentRecord]:
        return [r for r in map(self._record, rows) if r is not None]


def _warn(line: str) -> None:
    print(f"hyperwatt: note: {line}", file=sys.stderr)


def _write_experiment(db: sqlite3.Connection, record: ExperimentRecord) -> None:
    e = record.energy
    row = {
        "experiment_id": record.experiment_id, "session_id": record.session_id, "slot": record.slot,
        "workload": record.workload, "mode": record.mode, "key_hash": record.key_hash,
        "label": record.label, "repeat_index": record.repeat_index, "status": record.status,
        "started_wall": record.started_wall, "ended_wall": record.ended_wall,
        "duration_s": record.duration_s, "gpu_energy_j": e.gpu_energy_j, "cpu_energy_j": e.cpu_energy_j,
        "total_energy_j": e.total_energy_j, "valid": int(record.valid),
        "record_json": record.model_dump_json(),
    }
    cols = ", ".join(row)
    marks = ", ".join(f":{k}" for k in row)
    db.execute(f"INSERT OR REPLACE INTO experiments ({cols}) VALUES ({marks})", row)
    db.execute("DELETE FROM attempts WHERE experiment_id = ?", (record.experiment_id,))
    db.executemany(
        "INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(record.experiment_id, a.number, a.started_wall, a.ended_wall, a.duration_s, a.exit_code,
          int(a.timed_out), a.log) for a in record.attempts],
    )
    db.execute("DELETE FROM background_runs WHERE experiment_id = ?", (record.experiment_id,))
    runs = record.background.runs if record.background else []
    db.executemany(
        "INSERT INTO background_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(record.experiment_id, r.index, r.started_wall, r.ended_wall, r.exit_code, r.log,
          int(r.stopped_by_us), int(r.effective)) for r in runs],
    )


def existing_store(results_dir: Path) -> Path:
    """The store file of a results folder that a run wrote; a one-line ConfigError naming what is
    missing (the folder itself, or the store in it) otherwise."""
    folder = Path(results_dir)
    db = folder / DB_NAME
    if db.exists():
        return db
    if not folder.exists():
        reason = "no such folder; pass -o/--results-dir with the folder a run wrote its results to"
    elif not folder.is_dir():
        reason = "not a folder; pass -o/--results-dir with the folder a run wrote its results to"
    else:
        reason = f"no results store ({DB_NAME}) in this folder; run a plan first or pass -o/--results-dir"
    raise ConfigError(folder, None, reason)


def open_store(results_dir: Path, readonly: bool = False) -> Store:
    return Store(Path(results_dir) / DB_NAME, readonly=readonly)

