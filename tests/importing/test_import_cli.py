"""Imported sessions through the command line: import, status, export, verify and report see them."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.importing.seed_rows import MODELS, SAMPLE


def hw(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "hyperwatt", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def test_import_then_status_export_verify_report(tmp_path):
    out = hw("import", str(SAMPLE), "-W", str(MODELS), "-o", "results", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "5 imported, 0 skipped" in out.stdout and "flagged 1: hyperparameters left empty" in out.stdout
    again = hw("import", str(SAMPLE), "-W", str(MODELS), "-o", "results", cwd=tmp_path)
    assert "0 imported, 5 skipped" in again.stdout and "0 experiment(s) imported" in again.stdout
    status = hw("status", "-o", "results", cwd=tmp_path)
    assert "imported" in status.stdout, status.stdout
    session = next(p.name for p in (tmp_path / "results").iterdir() if p.name.startswith("import-"))
    exported = hw("export", "-o", "results", "--out", "all.csv", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader((tmp_path / "all.csv").open()))
    assert len(rows) == 5 and {r["gpu_method"] for r in rows} == {"nvidia-smi-1hz-sum"}
    verify = hw("verify", session, "-o", "results", cwd=tmp_path)
    assert verify.returncode == 0, verify.stderr
    # the seed never watched its backgrounds: not measured, never a yes
    assert "backgrounds effective (really loaded the GPU) | 0/0, 3 not measured" in verify.stdout, verify.stdout
    report = hw("report", session, "-o", "results", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "results" / session / "report.html").exists()


def test_bad_import_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "raw_data.csv"
    bad.write_text("a,b\n1,2\n")
    out = hw("import", str(bad), "-o", "results", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "raw_data.csv: line 1" in out.stderr
    assert not (tmp_path / "results" / "hyperwatt.db").exists()


def test_an_imported_session_cannot_be_resumed(tmp_path):
    from hyperwatt.config import load_registry
    from hyperwatt.engine import SessionOptions, resume
    from hyperwatt.errors import HyperwattError
    from hyperwatt.importing import import_paths
    from hyperwatt.store import open_store

    import_paths([SAMPLE], tmp_path, load_registry([MODELS]))
    (session,) = open_store(tmp_path, readonly=True).sessions()
    with pytest.raises(HyperwattError, match="imported from the seed system"):
        resume(session.session_id, SessionOptions(results_dir=tmp_path))
