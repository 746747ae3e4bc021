"""The SQLite store: sessions, experiments, attempts and background runs (WAL, one transaction per write)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from hyperwatt.records import ExperimentRecord

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


@dataclass
class SlotRow:
    """One planned experiment of a session; `skip_reason` set when dedup skipped it."""

    slot: int
    key_hash: str
    workload: str
    label: str
    skip_reason: str | None = None


class Store:
    """One SQLite file; safe to use from several threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

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
    def begin_session(self, row: SessionRow) -> None:
        fields = asdict(row)
        cols = ", ".join(fields)
        marks = ", ".join(f":{k}" for k in fields)
        with self._tx() as db:
            db.execute(f"INSERT INTO sessions ({cols}) VALUES ({marks})", fields)

    def update_session(self, session_id: str, **changes: object) -> None:
        allowed = {"status", "ended_wall", "pid", "host"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"can only update {sorted(allowed)}")
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        with self._tx() as db:
            db.execute(f"UPDATE sessions SET {sets} WHERE session_id = :sid", {**changes, "sid": session_id})

    def session(self, session_id: str) -> SessionRow | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return SessionRow(**dict(row)) if row else None

    def sessions(self) -> list[SessionRow]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM sessions ORDER BY started_wall").fetchall()
        return [SessionRow(**dict(r)) for r in rows]

    # planned slots ----------------------------------------------------------------------------
    def save_slots(self, session_id: str, slots: Iterable[SlotRow]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT INTO slots VALUES (?, ?, ?, ?, ?, ?)",
                [(session_id, s.slot, s.key_hash, s.workload, s.label, s.skip_reason) for s in slots],
            )

    def slots(self, session_id: str) -> list[SlotRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT slot, key_hash, workload, label, skip_reason FROM slots WHERE session_id = ? ORDER BY slot",
                (session_id,),
            ).fetchall()
        return [SlotRow(**dict(r)) for r in rows]

    # experiments ------------------------------------------------------------------------------
    def save_experiment(self, record: ExperimentRecord) -> None:
        """Insert or replace the experiment with its attempts and background runs, atomically."""
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
        with self._tx() as db:
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

    def experiments(self, session_id: str | None = None) -> list[ExperimentRecord]:
        query = "SELECT record_json FROM experiments"
        args: tuple[object, ...] = ()
        if session_id is not None:
            query += " WHERE session_id = ?"
            args = (session_id,)
        query += " ORDER BY started_wall IS NULL, started_wall, slot"
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [ExperimentRecord.model_validate_json(r[0]) for r in rows]

    def experiment(self, experiment_id: str) -> ExperimentRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT record_json FROM experiments WHERE experiment_id = ?", (experiment_id,)
            ).fetchone()
        return ExperimentRecord.model_validate_json(row[0]) if row else None

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

    def durations_s(self, workload: str) -> list[float]:
        """Wall times of past succeeded experiments of a workload (for ETAs)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT duration_s FROM experiments WHERE workload = ? AND status = 'succeeded' "
                "AND duration_s IS NOT NULL", (workload,),
            ).fetchall()
        return [r[0] for r in rows]

    def running(self, session_id: str) -> list[ExperimentRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT record_json FROM experiments WHERE session_id = ? AND status = 'running'", (session_id,)
            ).fetchall()
        return [ExperimentRecord.model_validate_json(r[0]) for r in rows]


def open_store(results_dir: Path) -> Store:
    return Store(Path(results_dir) / DB_NAME)

