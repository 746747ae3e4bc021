"""A full disk mid-session: one line naming the file system and what was kept; nothing recorded is
lost; `resume` completes once there is room again."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, resume, run_plan
from hyperwatt.engine import context  # EngineContext.save writes every experiment.json
from hyperwatt.errors import DiskFullError
from hyperwatt.store import open_store
from hyperwatt.store.db import _store_errors
from hyperwatt.store.diskfull import filesystem, is_disk_full


def _plan(write_plan):
    return write_plan("""
        [[experiments]]
        workload = "toy/net"
        hyperparameters = { epochs = 1 }
        [[experiments]]
        workload = "toy/net"
        hyperparameters = { epochs = 2 }
        [[experiments]]
        workload = "toy/net"
        hyperparameters = { epochs = 3 }
    """)


def test_a_full_disk_mid_session_is_one_line_loses_nothing_and_resume_completes(write_plan, toy_dir, monkeypatch):
    real = context.write_experiment_json

    def full_at_second_record(layout, record):
        if record.slot == 1 and record.status != "running":  # the disk fills as experiment 2 ends
            raise OSError(errno.ENOSPC, "No space left on device", str(layout.record))
        real(layout, record)

    monkeypatch.setattr(context, "write_experiment_json", full_at_second_record)
    options = SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: None)
    with pytest.raises(DiskFullError) as err:
        run_plan(load_plan(_plan(write_plan), Registry.builtin()), options)
    line = str(err.value)
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"{filesystem(toy_dir)}: the file system is full (writing ")
    assert "experiment.json failed: no space left on device" in line
    (session,) = open_store(toy_dir / "results", readonly=True).sessions()
    assert f"kept: 1 finished experiment(s) of session {session.session_id}" in line
    assert f"hyperwatt resume {session.session_id}" in line
    assert session.status != "completed"
    recorded = {r.slot: r.status for r in open_store(toy_dir / "results", readonly=True).experiments()}
    assert recorded == {0: "succeeded", 1: "running"}  # the one in flight is visible, not lost

    monkeypatch.setattr(context, "write_experiment_json", real)  # room again
    done = resume(session.session_id, options)
    final = [(r.slot, r.status) for r in done.records if r.status != "interrupted"]
    assert sorted(final) == [(0, "succeeded"), (1, "succeeded"), (2, "succeeded")]
    assert done.exit_status(strict=True) == 0
    assert open_store(toy_dir / "results", readonly=True).session(session.session_id).status == "completed"  # type: ignore[union-attr]


def test_sqlite_says_disk_full_as_one_line_naming_the_store(tmp_path):
    class Fake:
        path = tmp_path / "hyperwatt.db"

        @_store_errors
        def write(self):
            raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(DiskFullError, match="hyperwatt.db: the file system is full"):
        Fake().write()
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(sqlite3.OperationalError("disk I/O error"))  # without a path to look at


def test_a_full_disk_at_preflight_names_the_file_system(write_plan, toy_dir):
    plan = write_plan("""
        [preflight]
        min_free_disk_mib = 1e12
        [[experiments]]
        workload = "toy/net"
    """)
    from hyperwatt.errors import PreflightError

    with pytest.raises(PreflightError, match=f"MiB free on the file system {filesystem(toy_dir)}"):
        run_plan(load_plan(plan, Registry.builtin()),
                 SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: None))
