"""Values kept as they were: integers stay integers in summary.csv and every export, and a round
trip store → export → read back → export gives the same file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hyperwatt.records import Attempt, Energy, ExperimentRecord
from hyperwatt.store import frame, write_summary
from hyperwatt.store.tables import export, read_export, write_frame


def _rec(i: int, hp: dict, metrics: dict, status: str = "succeeded") -> ExperimentRecord:
    return ExperimentRecord(
        experiment_id=f"e{i}", session_id="s", slot=i, label="fixed", workload="a/b", mode="sequential",
        status=status, key="k", key_hash=f"h{i}", hyperparameters=hp, metrics=metrics, started_wall=1_700_000_000.5,
        duration_s=12.25 if status == "succeeded" else None,
        attempts=[Attempt(number=1, argv=["x"], cwd="/", log="l", started_wall=1.0, duration_s=12.25,
                          succeeded=True)] if status == "succeeded" else [],
        energy=Energy(available=status == "succeeded", gpu_energy_j=1234.5 if status == "succeeded" else None,
                      reason=None if status == "succeeded" else "interrupted before the foreground's window closed"),
    )


def _records() -> list[ExperimentRecord]:
    # gaps everywhere: a hyperparameter only some runs set, a metric only some runs report, an
    # interrupted run with no energy, a boolean and a string hyperparameter, a mixed-type one
    return [
        _rec(0, {"batch_size": 64, "seed": 1, "lr": 0.1, "amp": True, "opt": "sgd", "mix": 1}, {"acc": 0.955}),
        _rec(1, {"batch_size": 128, "lr": 0.05, "amp": False, "opt": "adam", "mix": "auto"}, {"acc": 0.9, "epoch": 3}),
        _rec(2, {"seed": 2, "lr": 1.0}, {}, status="interrupted"),
    ]


def test_integer_columns_with_gaps_stay_integers_in_summary_csv(tmp_path: Path):
    path = tmp_path / "summary.csv"
    write_summary(path, _records())
    df = frame(_records())
    assert str(df["hp_batch_size"].dtype) == "Int64" and df["hp_batch_size"].tolist()[:2] == [64, 128]
    assert str(df["hp_seed"].dtype) == "Int64" and str(df["attempts"].dtype) == "Int64"
    assert str(df["metric_epoch"].dtype) == "float64"  # metrics are numbers (records.py: float)
    assert str(df["hp_amp"].dtype) == "boolean" and str(df["valid"].dtype) == "boolean"
    assert str(df["hp_lr"].dtype) == "float64" and df["hp_lr"].tolist()[2] == 1.0
    assert df["hp_mix"].tolist() == ["1", "auto", None]  # mixed kinds: as text, not coerced
    row0 = pd.read_csv(path, dtype=str, keep_default_na=False).iloc[0]
    assert row0["hp_batch_size"] == "64" and row0["hp_seed"] == "1" and row0["metric_acc"] == "0.955"
    assert row0["attempts"] == "1" and row0["measured"] == "True" and row0["metric_epoch"] == ""
    row2 = pd.read_csv(path, dtype=str, keep_default_na=False).iloc[2]
    assert row2["hp_batch_size"] == "" and row2["measured"] == "False" and row2["gpu_energy_j"] == ""


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_round_trip_store_export_read_back_export_is_identical(tmp_path: Path, fmt: str):
    first = export(_records(), fmt, tmp_path / f"a.{fmt}")  # type: ignore[arg-type]
    back = read_export(first)
    if fmt == "json":
        assert isinstance(back, list)
        second = export(back, "json", tmp_path / "b.json")
    else:
        assert isinstance(back, pd.DataFrame)
        assert str(back["hp_batch_size"].dtype) == "Int64" and back["hp_batch_size"].iloc[0] == 64
        pd.testing.assert_frame_equal(back, frame(_records()), check_dtype=False)
        assert str(back["hp_amp"].dtype) == "boolean" and str(back["hp_lr"].dtype) == "float64"
        second = write_frame(back, fmt, tmp_path / f"b.{fmt}")  # type: ignore[arg-type]
    if fmt == "parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(first), pd.read_parquet(second))
    else:
        assert second.read_bytes() == first.read_bytes()


def test_parquet_keeps_integer_and_boolean_types(tmp_path: Path):
    out = export(_records(), "parquet", tmp_path / "x.parquet")
    df = pd.read_parquet(out)
    assert str(df["hp_batch_size"].dtype) == "Int64" and df["hp_batch_size"].tolist()[:2] == [64, 128]
    assert str(df["hp_amp"].dtype) == "boolean"
