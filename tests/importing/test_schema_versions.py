"""Records and imported sessions carry a schema version: newer ones are refused in one line, older ones migrate."""

from __future__ import annotations

import json
import sqlite3

import pytest

from hyperwatt.config import load_registry
from hyperwatt.errors import ConfigError
from hyperwatt.importing import IMPORT_SCHEMA_VERSION, import_paths, read_manifest
from hyperwatt.records import SCHEMA_VERSION, ExperimentRecord, migrate
from hyperwatt.store import open_store
from tests.importing.seed_rows import MODELS, SAMPLE


def _minimal(version: int | None) -> dict:
    data = {"experiment_id": "e1", "session_id": "s", "slot": 0, "label": "x", "workload": "examples/mnist",
            "mode": "sequential", "status": "succeeded", "key": "k", "key_hash": "h"}
    if version is not None:
        data["schema_version"] = version
    return data


def test_an_older_record_is_migrated():
    for old in (None, 1):
        rec = ExperimentRecord.model_validate(_minimal(old))
        assert rec.schema_version == SCHEMA_VERSION and rec.imported is None and rec.energy.gpu_method is None


def test_a_newer_record_is_refused_with_the_versions():
    with pytest.raises(ValueError, match=f"newer hyperwatt .record schema {SCHEMA_VERSION + 1}; this one reads up to "
                       f"{SCHEMA_VERSION}"):
        migrate(_minimal(SCHEMA_VERSION + 1))
    for bad in ("2", True, 0):
        with pytest.raises(ValueError, match="positive integer"):
            migrate(_minimal(bad))  # type: ignore[arg-type]


def test_a_newer_record_in_the_store_is_reported_and_skipped(tmp_path):
    import_paths([SAMPLE], tmp_path, load_registry([MODELS]))
    db = sqlite3.connect(tmp_path / "hyperwatt.db")
    (rid, text), *_ = db.execute("SELECT experiment_id, record_json FROM experiments").fetchall()
    data = json.loads(text)
    data["schema_version"] = SCHEMA_VERSION + 5
    db.execute("UPDATE experiments SET record_json = ? WHERE experiment_id = ?", (json.dumps(data), rid))
    db.commit()
    db.close()
    store = open_store(tmp_path, readonly=True)
    notes: list[str] = []
    store.warn = notes.append
    assert len(store.experiments()) == 4  # the other records still read
    (note,) = notes
    assert rid in note and f"newer hyperwatt (record schema {SCHEMA_VERSION + 5}" in note and "\n" not in note


def test_imported_session_manifest_is_versioned(tmp_path):
    import_paths([SAMPLE], tmp_path, load_registry([MODELS]))
    (session,) = open_store(tmp_path, readonly=True).sessions()
    path = tmp_path / session.session_id / "import.json"
    assert read_manifest(path)["schema_version"] == IMPORT_SCHEMA_VERSION
    data = json.loads(path.read_text())
    data["schema_version"] = IMPORT_SCHEMA_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="newer hyperwatt"):
        read_manifest(path)


def test_experiment_json_is_read_with_its_version_checked(tmp_path):
    from hyperwatt.errors import HyperwattError
    from hyperwatt.store import read_experiment_json

    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(_minimal(1)))
    assert read_experiment_json(path).schema_version == SCHEMA_VERSION  # migrated
    path.write_text(json.dumps(_minimal(SCHEMA_VERSION + 1)))
    with pytest.raises(HyperwattError, match="newer hyperwatt") as info:
        read_experiment_json(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
