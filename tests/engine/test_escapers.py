"""A training that leaves a daemon behind (double fork, setsid, empty environment, SIGTERM
ignored): the daemon is gone before the next experiment starts, and the record says it was killed."""

from __future__ import annotations

import psutil

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from tests.conftest import ESCAPE_TRAIN, ESCAPE_WORKLOAD, FAST_TIMING

PLAN = ESCAPE_WORKLOAD + '''
[[experiments]]
workload = "toy/escape"
repeats = 2
'''


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_escaped_daemon_is_killed_named_and_reported(tmp_path):
    (tmp_path / "escape.py").write_text(ESCAPE_TRAIN)
    plan = tmp_path / "plan.toml"
    plan.write_text(f'name = "escape"\nseed = 1\n{FAST_TIMING}\n{PLAN}')
    result = run_plan(load_plan(plan, Registry.builtin()),
                      SessionOptions(results_dir=tmp_path / "results", sensors_factory=lambda p: None))
    # in the order they escaped (each writes its file at once), not by pid: pids wrap around (pid_max)
    daemons = [int(p.name) for p in sorted((tmp_path / "escapers").iterdir(), key=lambda p: p.stat().st_mtime_ns)]
    assert len(daemons) == 2 and not any(_alive(pid) for pid in daemons)
    first, second = sorted(result.records, key=lambda r: r.slot)
    for rec, daemon in zip((first, second), daemons):
        assert rec.status == "succeeded" and rec.leaks == []
        (orphan,) = rec.attempts[0].orphans
        assert orphan.startswith(f"pid {daemon}: ")
        flag = next(f for f in rec.flags if f.code == "orphan_processes")
        assert f"pid {daemon}" in flag.message
    # the first daemon was gone before the second experiment started (nothing ran into its window)
    log = (result.layout.dir / second.experiment_id / second.attempts[0].log).read_text()
    assert "earlier daemons alive: 0" in log
    assert f"pid {daemons[0]}" in result.layout.verification.read_text()
