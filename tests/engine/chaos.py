"""Chaos driver: kill the runner at random moments, resume until the plan is done, then audit.

Used by tests/engine/test_chaos.py (small N, in CI) and benchmarks/chaos.py (N = 50).
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ESCAPE_TRAIN, ESCAPE_WORKLOAD
from tests.engine.runner_helpers import make_project, ours, start, wait_for

EXPERIMENTS = "".join(
    f'[[experiments]]\nworkload = "toy/net"\nhyperparameters = {{ epochs = {e}, sleep = {s}, spawn_child = {c} }}\n'
    for e, s, c in [(1, 0.4, 1), (2, 0.8, 0), (3, 0.2, 1), (4, 1.0, 0)]
)
# a training that leaves a SIGTERM-ignoring daemon behind (double fork, setsid, empty environment:
# no token, so only its guard can find it); the daemons' pids land in <project>/escapers/
ESCAPING = ESCAPE_WORKLOAD + """
[[experiments]]
workload = "toy/escape"
hyperparameters = { sleep = 0.5 }
"""


@dataclass
class ChaosReport:
    kills: int = 0
    leaks: list[str] = field(default_factory=list)  # processes alive 2 s after a kill
    lost: list[str] = field(default_factory=list)  # campaign:slot never finished
    duplicated: list[str] = field(default_factory=list)  # campaign:slot finished more than once
    integrity: str = ""
    rounds: int = 0

    @property
    def ok(self) -> bool:
        return not self.leaks and not self.lost and not self.duplicated and self.integrity == "ok"


def run_chaos(root: Path, kills: int, seed: int = 0, max_delay_s: float = 3.0) -> ChaosReport:
    """Campaigns of the same small plan, each in a fresh folder, until `kills` kills have landed."""
    rng = random.Random(seed)
    report = ChaosReport()
    campaign = 0
    while report.kills < kills or campaign == 0:
        campaign += 1
        _campaign(root / f"campaign-{campaign}", kills, rng, max_delay_s, report)
    return report


def _campaign(root: Path, kills: int, rng: random.Random, max_delay_s: float, report: ChaosReport) -> None:
    make_project(root, EXPERIMENTS + ESCAPING)
    (root / "escape.py").write_text(ESCAPE_TRAIN)
    session: str | None = None
    while True:
        report.rounds += 1
        proc = start(root, "resume", session) if session else start(root, "run", "plan.toml")
        if report.kills < kills:
            time.sleep(rng.uniform(0.05, max_delay_s))
            if proc.poll() is None:
                proc.send_signal(rng.choice([signal.SIGKILL, signal.SIGKILL, signal.SIGINT, signal.SIGTERM]))
                report.kills += 1
        proc.communicate(timeout=300)
        if not wait_for(lambda: not ours(root) and not _daemons(root), 2.0):
            report.leaks += [str(p) for p in ours(root)] + [f"escaped daemon {p}" for p in _daemons(root)]
        session = session or _session(root)
        if session is None:
            continue  # killed before the session existed: start afresh
        if _status(root, session) == "completed":
            break
    lost, duplicated = _audit(root, session)
    report.lost += [f"{root.name}:{s}" for s in lost]
    report.duplicated += [f"{root.name}:{s}" for s in duplicated]
    db = sqlite3.connect(root / "results" / "hyperwatt.db")
    check = db.execute("PRAGMA integrity_check").fetchone()[0]
    report.integrity = check if report.integrity in ("", "ok") else report.integrity
    for path in (root / "results").glob("*/*/experiment.json"):
        json.loads(path.read_text())  # every record readable


def _daemons(root: Path) -> list[int]:
    """Escaped daemons (no token) still alive."""
    return [pid for pid in (int(p.name) for p in root.glob("escapers/*")) if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _session(root: Path) -> str | None:
    db_path = root / "results" / "hyperwatt.db"
    if not db_path.exists():
        return None
    try:
        row = sqlite3.connect(db_path).execute("SELECT session_id FROM sessions").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _status(root: Path, session: str) -> str:
    db = sqlite3.connect(root / "results" / "hyperwatt.db")
    return db.execute("SELECT status FROM sessions WHERE session_id = ?", (session,)).fetchone()[0]


def _audit(root: Path, session: str) -> tuple[list[int], list[int]]:
    db = sqlite3.connect(root / "results" / "hyperwatt.db")
    slots = [r[0] for r in db.execute("SELECT slot FROM slots WHERE session_id = ?", (session,))]
    done = [r[0] for r in db.execute(
        "SELECT slot FROM experiments WHERE session_id = ? AND status IN ('succeeded', 'failed', 'invalid')",
        (session,))]
    lost = [s for s in slots if s not in done]
    duplicated = sorted({s for s in done if done.count(s) > 1})
    return lost, duplicated
