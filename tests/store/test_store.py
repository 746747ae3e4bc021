"""The SQLite store round-trips records; summary.csv and exports are regenerated from it."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd

from hyperwatt.records import Attempt, BackgroundRecord, BackgroundRunRecord, Energy, ExperimentRecord
from hyperwatt.store import SUMMARY_COLUMNS, SessionRow, SlotRow, export, open_store, write_summary


def _record(i: int, status: str = "succeeded", **hp) -> ExperimentRecord:
    return ExperimentRecord(
        experiment_id=f"e{i}", session_id="s1", slot=i, label="default", workload="toy/net", mode="parallel",
        status=status, key=f"k{i}", key_hash=f"h{i % 2}", hyperparameters={"lr": 0.1 * (i + 1), "opt": "sgd", **hp},
        metrics={"acc": 0.5 + i / 10}, started_wall=1000.0 + i, ended_wall=1010.0 + i, duration_s=9.5,
        attempts=[Attempt(number=1, argv=["python", "t.py"], cwd="/w", log="attempt-1/training.log",
                          started_wall=1000.0, exit_code=0, succeeded=True)],
        energy=Energy(available=True, gpu_energy_j=100.0 + i, gpu_uncertainty_j=0.5, cpu_energy_j=None),
        background=BackgroundRecord(workload="bg/w", hyperparameters={}, argv=["x"], effective=True, coverage=1.0,
                                    runs=[BackgroundRunRecord(index=1, started_wall=990.0, ended_wall=None,
                                                              duration_s=None, exit_code=None, log="b.log",
                                                              stopped_by_us=True, effective=True)]),
    )


def _session(store):
    store.begin_session(SessionRow(session_id="s1", name="p", plan_path="/p.toml", plan_hash="abc", results_dir="/r",
                                   started_wall=1.0, status="running", planned=3, host="h", pid=1, version="0"))


def test_round_trip_and_counts(tmp_path):
    store = open_store(tmp_path)
    _session(store)
    store.save_slots("s1", [SlotRow(0, "h0", "toy/net", "default"), SlotRow(1, "h1", "toy/net", "x", "done")])
    for i in range(3):
        store.save_experiment(_record(i, "succeeded" if i < 2 else "failed"))
    back = store.experiments("s1")
    assert [r.experiment_id for r in back] == ["e0", "e1", "e2"]
    assert back[0] == _record(0)
    assert store.succeeded_counts(["h0", "h1", "zz"]) == {"h0": 1, "h1": 1, "zz": 0}
    assert store.slots("s1")[1].skip_reason == "done"
    assert store.durations("toy/net") == [(9.5, {"lr": 0.1, "opt": "sgd"}, "parallel", "bg/w"),
                                          (9.5, {"lr": 0.2, "opt": "sgd"}, "parallel", "bg/w")]
    assert store.durations("toy/net", exclude_session="s1") == []
    store.update_session("s1", status="completed", ended_wall=5.0)
    assert store.session("s1").status == "completed"
    # one row per attempt and background run, replaced (not duplicated) on re-save
    store.save_experiment(_record(0))
    db = sqlite3.connect(tmp_path / "hyperwatt.db")
    assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 3
    assert db.execute("SELECT COUNT(*) FROM background_runs").fetchone()[0] == 3
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_summary_has_stable_columns_and_exports(tmp_path):
    records = [_record(0), _record(1, extra=True)]
    path = tmp_path / "summary.csv"
    write_summary(path, records)
    df = pd.read_csv(path)
    assert list(df.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    assert list(df.columns[len(SUMMARY_COLUMNS):]) == ["hp_extra", "hp_lr", "hp_opt", "metric_acc"]
    assert df["gpu_energy_j"].tolist() == [100.0, 101.0] and df["cpu_energy_j"].isna().all()
    write_summary(path, records[:1])  # regenerated, not appended
    assert len(pd.read_csv(path)) == 1
    pq = export(records, "parquet", tmp_path / "x.parquet")
    assert len(pd.read_parquet(pq)) == 2
    js = export(records, "json", tmp_path / "x.json")
    assert json.loads(js.read_text())[1]["experiment_id"] == "e1"


def test_atomic_writes_get_the_mode_an_ordinary_write_would(tmp_path):
    # mkstemp's 0600 made summary.csv, report.html, experiment.json … unreadable to a shared group
    import os
    import stat

    from hyperwatt.store import atomic_write_text

    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "summary.csv", "a,b\n")
        assert stat.S_IMODE((tmp_path / "summary.csv").stat().st_mode) == 0o640
        os.umask(0o022)
        atomic_write_text(tmp_path / "report.html", "<html>")
        assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o644
        (tmp_path / "report.html").chmod(0o600)  # a file the user restricted keeps its mode
        atomic_write_text(tmp_path / "report.html", "<html>2")
        assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o600
        assert (tmp_path / "report.html").read_text() == "<html>2"
    finally:
        os.umask(old)
