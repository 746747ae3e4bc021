"""A results store that is corrupt, foreign, from an old schema, a folder, read-only or holds a
record that does not read: one line naming the file, never a traceback; reading needs no write access."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hyperwatt.errors import HyperwattError, StoreError
from hyperwatt.store import SessionRow, export, open_store
from tests.store.test_store import _record, _session


def _fails(results: Path, fragment: str, readonly: bool = False) -> None:
    with pytest.raises(StoreError) as info:
        open_store(results, readonly=readonly).sessions()
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert str(results / "hyperwatt.db") in str(info.value)


@pytest.mark.parametrize("readonly", [False, True])
def test_corrupt_foreign_old_and_folder_stores_are_one_line(tmp_path, readonly):
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "hyperwatt.db").write_text("not sqlite at all\n" * 100)
    _fails(tmp_path / "garbage", "damaged or not an SQLite file", readonly)
    (tmp_path / "foreign").mkdir()
    with sqlite3.connect(tmp_path / "foreign" / "hyperwatt.db") as db:
        db.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    _fails(tmp_path / "foreign", "not a hyperwatt results store (it holds tables users)", readonly)
    with sqlite3.connect(tmp_path / "foreign" / "hyperwatt.db") as db:  # our tables were not added to it
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["users"]
    (tmp_path / "old").mkdir()
    with sqlite3.connect(tmp_path / "old" / "hyperwatt.db") as db:
        db.execute("CREATE TABLE sessions (session_id TEXT, name TEXT)")
    _fails(tmp_path / "old", "table sessions lacks ended_wall", readonly)
    (tmp_path / "folder" / "hyperwatt.db").mkdir(parents=True)
    _fails(tmp_path / "folder", "is a folder", readonly)


def test_a_record_that_does_not_read_is_named_and_skipped(tmp_path):
    store = open_store(tmp_path)
    _session(store)
    for slot in range(3):
        store.save_experiment(_record(slot))
    store.close()
    with sqlite3.connect(tmp_path / "hyperwatt.db") as db:
        db.execute("UPDATE experiments SET record_json = '{\"a\": 1}' WHERE experiment_id = 'e0'")
        db.execute("UPDATE experiments SET record_json = 'not json' WHERE experiment_id = 'e1'")
    ro = open_store(tmp_path, readonly=True)
    said: list[str] = []
    ro.warn = said.append
    assert [r.experiment_id for r in ro.experiments()] == ["e2"]
    assert ro.experiment("e0") is None
    assert [r.experiment_id for r in ro.experiments("s1")] == ["e2"]
    assert sorted(ro.unreadable) == ["e0", "e1"]
    assert len(said) == 2  # once per record, however often it is read
    assert "experiment e0: its stored record does not read" in said[0] and "skipped" in said[0]


def test_readonly_store_reads_and_refuses_writes(tmp_path):
    store = open_store(tmp_path)
    _session(store)
    store.close()
    ro = open_store(tmp_path, readonly=True)
    assert [s.session_id for s in ro.sessions()] == ["s1"]
    with pytest.raises(StoreError, match="read-only"):
        ro.begin_session(SessionRow(session_id="s2", name="p", plan_path="/p", plan_hash="a", results_dir="/r",
                                    started_wall=1.0, status="running", planned=1, host="h", pid=1, version="0"))


def test_export_to_an_unwritable_place_is_one_line(tmp_path):
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(HyperwattError, match="cannot write the export"):
        export([_record(0)], "csv", tmp_path / "out.csv")


def test_read_only_results_folder_serves_status_and_export(tmp_path):
    """As another user (root ignores permissions), over a store in a folder nobody may write."""
    base = Path(tempfile.mkdtemp(prefix="hw-ro-"))  # pytest's tmp_path is private to its user
    results, out = base / "results", base / "out"
    try:
        store = open_store(results)
        _session(store)
        store.save_experiment(_record(0))
        store.close()
        out.mkdir()
        os.chmod(out, 0o777)
        os.chmod(results / "hyperwatt.db", 0o444)
        os.chmod(results, 0o555)
        os.chmod(base, 0o755)
        as_other = []
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("root ignores permissions and setpriv is missing")
            as_other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

        def hw(*args: str) -> subprocess.CompletedProcess:
            where = ["-o", str(results)] if args[0] != "--version" else []
            return subprocess.run([*as_other, sys.executable, "-m", "hyperwatt", *args, *where],
                                  capture_output=True, text=True, timeout=120, cwd=out,
                                  env={**os.environ, "MPLCONFIGDIR": str(out / "mpl"), "COLUMNS": "200"})

        try:
            probe = hw("--version")
        except OSError as exc:
            pytest.skip(f"cannot run hyperwatt as another user here: {exc}")
        if probe.returncode != 0:
            pytest.skip(f"cannot run hyperwatt as another user here: {probe.stderr.strip()[:200]}")
        status = hw("status")  # was: internal error, attempt to write a readonly database
        assert status.returncode == 0 and "s1" in status.stdout, status.stderr
        exported = hw("export", "--out", str(out / "e.csv"))
        assert exported.returncode == 0 and (out / "e.csv").exists(), exported.stderr
        verify = hw("verify", "s1")  # writes: refused in one line
        assert verify.returncode == 1 and "read-only" in verify.stderr and "Traceback" not in verify.stderr
        assert len(verify.stderr.strip().splitlines()) == 1
    finally:
        os.chmod(results, 0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_doctor_reports_a_damaged_store(tmp_path):
    from hyperwatt.doctor import _results_row

    (tmp_path / "hyperwatt.db").write_text("garbage")
    name, ok, detail = _results_row(tmp_path)  # said "writable", ok
    assert name == "results dir" and not ok and "damaged or not an SQLite file" in detail
    (tmp_path / "hyperwatt.db").unlink()
    store = open_store(tmp_path)
    _session(store)
    store.close()
    assert _results_row(tmp_path)[1:] == (True, f"{tmp_path.resolve()} is writable; its store holds 1 session(s)")
