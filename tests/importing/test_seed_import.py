"""`hyperwatt import`: the seed's raw_data.csv and run folders become imported sessions, exactly."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path

import pytest

from hyperwatt.config import load_registry
from hyperwatt.errors import ConfigError
from hyperwatt.importing import GPU_METHOD, import_paths, read_manifest, read_sources
from hyperwatt.store import export, open_store
from tests.importing.seed_rows import MODELS, SAMPLE, generated, reid_row, sample, write


@pytest.fixture(scope="module")
def registry():
    return load_registry([MODELS])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sample_rows_map_as_the_seed_wrote_them(tmp_path, registry):
    before = _digest(SAMPLE)
    report = import_paths([SAMPLE], tmp_path, registry)
    assert report.imported == 5 and _digest(SAMPLE) == before  # the source is only read
    store = open_store(tmp_path, readonly=True)
    (session,) = store.sessions()
    assert session.status == "imported" and session.planned == 5
    recs = {r.imported.seed_experiment_id: r for r in store.experiments()}
    seq = recs["mutation_1x__examples_mnist_007"]
    assert seq.mode == "sequential" and seq.status == "succeeded" and seq.workload == "examples/mnist"
    # only the mutated value was written: the rest are the model's defaults, and say so
    assert seq.hyperparameters == {"epochs": 5, "learning_rate": 0.01, "batch_size": 32, "seed": 1}
    assert sorted(seq.imported.defaulted) == ["batch_size", "learning_rate", "seed"]
    assert seq.hyperparameter_args == {"epochs": "5"} and seq.mutated == ["epochs"]
    assert seq.metrics == {"test_accuracy": 99.0, "test_loss": 0.0312}
    e = seq.energy
    assert e.gpu_energy_j == 6428.559999999998 and e.gpu_method == GPU_METHOD
    assert e.cpu_energy_j == 2304.78 and e.dram_energy_j == 171.63
    assert e.total_energy_j == pytest.approx(6428.559999999998 + 2476.41)
    assert {s.method for s in e.sensors if s.domain == "gpu"} == {GPU_METHOD}
    assert any(f.code == "seed_gpu_energy_method" and "-39 %" in f.message for f in seq.flags)
    assert seq.valid  # a warning: counted as history, never mixed silently
    # parallel, foreground in both column sets: coalesced (fg_* holds the full setting)
    both = recs["examples_mnist_010_parallel"]
    assert both.mode == "parallel" and both.background.workload == "examples/siamese"
    assert both.hyperparameters == {"epochs": 10, "learning_rate": 0.01, "batch_size": 31, "seed": 1}
    assert both.duration_s == 205.87734818458557 and not both.imported.problems and not both.imported.defaulted
    # parallel, foreground only in fg_*
    fg_only = recs["default__pytorch_resnet_cifar10_resnet20_012_parallel"]
    assert fg_only.workload == "pytorch_resnet_cifar10/resnet20" and fg_only.energy.gpu_energy_j == 252254.5000000001
    assert fg_only.metrics["test_accuracy"] == 91.71 and fg_only.background.workload == "examples/mnist_ff"
    # parallel, foreground only unprefixed (and this real row names no background)
    plain = recs["MRT-OAST_default_034_parallel"]
    assert plain.hyperparameters["learning_rate"] == 6.360776340257752e-05
    assert any("background" in p for p in plain.imported.problems)


def test_fg_and_unprefixed_cells_that_differ_are_a_recorded_problem(tmp_path, registry):
    header, rows = sample()
    rows[2]["hyperparam_batch_size"] = "64"  # fg_hyperparam_batch_size is 31
    path = write(tmp_path / "raw_data.csv", header, rows)
    (batch,) = read_sources([path], registry)
    rec = next(m for m in batch.rows if m.record.imported.seed_experiment_id == "examples_mnist_010_parallel")
    assert rec.record.hyperparameters["batch_size"] == 31
    assert any("hyperparam_batch_size='64' but fg_hyperparam_batch_size='31'" in p for p in rec.record.imported.problems)
    assert any("conflicting fg_*" in c for c in rec.causes)


def test_seed_repository_names_are_kept_and_mapped(tmp_path, registry):
    header, rows = sample()
    path = write(tmp_path / "raw_data.csv", header, [reid_row(rows[0])])
    import_paths([path], tmp_path / "results", registry)
    (rec,) = open_store(tmp_path / "results", readonly=True).experiments()
    assert rec.workload == "Person_reID/pcb" and rec.imported.seed_repository == "Person_reID_baseline_pytorch"
    assert rec.imported.defaulted == ["seed"] and rec.hyperparameters["seed"] == 1334
    out = export([rec], "csv", tmp_path / "export.csv")
    (row,) = list(csv.DictReader(out.open()))
    assert row["seed_repository"] == "Person_reID_baseline_pytorch" and row["workload"] == "Person_reID/pcb"


def test_failed_rows_keep_the_seed_message(tmp_path, registry):
    header, rows = sample()
    path = write(tmp_path / "raw_data.csv", header,
                 [reid_row(rows[0], training_success="False", error_message="CUDA out of memory")])
    (batch,) = read_sources([path], registry)
    rec = batch.rows[0].record
    assert rec.status == "failed" and rec.status_reason == "CUDA out of memory" and not rec.valid


def test_suspect_ratio_metrics_are_flagged_not_dropped(tmp_path, registry):
    header, rows = sample()
    mixed = []
    for i, acc in enumerate(["0.95", "4117.0", "0.91"]):
        row = dict(rows[0], experiment_id=f"MRT_{i}", perf_accuracy=acc)
        mixed.append(row)
    path = write(tmp_path / "raw_data.csv", header, mixed)
    report = import_paths([path], tmp_path / "r", registry)
    recs = {r.imported.seed_experiment_id: r for r in open_store(tmp_path / "r", readonly=True).experiments()}
    assert recs["MRT_1"].metrics["accuracy"] == 4117.0  # kept
    assert [f.code for f in recs["MRT_1"].flags if f.code == "seed_suspect_value"] == ["seed_suspect_value"]
    assert not any(f.code == "seed_suspect_value" for f in recs["MRT_0"].flags)
    assert any("flagged 1: suspect value" in line for line in report.lines())


def test_import_is_idempotent_and_reports_skips(tmp_path, registry):
    first = import_paths([SAMPLE], tmp_path, registry)
    again = import_paths([SAMPLE], tmp_path, registry)
    assert first.imported == 5 and again.imported == 0
    assert any("skipped 5: already in the store" in line for line in again.lines())
    store = open_store(tmp_path, readonly=True)
    assert len(store.experiments()) == 5 and len(store.sessions()) == 1
    manifest = read_manifest(tmp_path / store.sessions()[0].session_id / "import.json")
    assert manifest["source_sha256"] == _digest(SAMPLE)


def test_full_size_file_imports_in_seconds(tmp_path, registry):
    path = generated(tmp_path / "raw_data.csv", 1225)
    started = time.perf_counter()
    report = import_paths([path], tmp_path / "results", registry)
    elapsed = time.perf_counter() - started
    assert report.imported == 1225
    assert elapsed < 30, f"import took {elapsed:.1f} s"  # ~2 s on a busy 2-core machine
    store = open_store(tmp_path / "results", readonly=True)
    recs = store.experiments()
    assert sum(r.status == "failed" for r in recs) == 1225 // 7
    assert {r.mode for r in recs} == {"sequential", "parallel"}


def test_export_returns_the_seed_values_to_the_last_digit(tmp_path, registry):
    header, rows = sample()
    rows[0]["hyperparam_weight_decay"] = "1.0e-05"  # not Python's shortest form: still exported as written
    rows[1]["perf_test_loss"] = "0.03120"
    path = write(tmp_path / "raw_data.csv", header, rows)
    import_paths([path], tmp_path / "r", registry)
    out = export(open_store(tmp_path / "r", readonly=True).experiments(), "csv", tmp_path / "export.csv")
    exported = {row["seed_experiment_id"]: row for row in csv.DictReader(out.open())}
    for src in rows:
        got = exported[src["experiment_id"]]
        def fg(c: str, src: dict[str, str] = src) -> str | None:
            return src.get(f"fg_{c}") or src.get(c)

        assert got["gpu_energy_j"] == fg("energy_gpu_total_joules")
        assert got["cpu_energy_j"] == fg("energy_cpu_pkg_joules")
        assert got["dram_energy_j"] == fg("energy_cpu_ram_joules")
        assert got["seed_timestamp"] == src["timestamp"]
        for column, text in src.items():
            base = column.removeprefix("fg_")
            if text and base.startswith("hyperparam_"):
                assert got["hp_" + base[len("hyperparam_"):]] == fg(base), column
            if text and base.startswith("perf_"):
                assert got["metric_" + base[len("perf_"):]] == fg(base), column
    # integers stay integers in a column with gaps (not 10.0)
    assert exported["default__MRT-OAST_default_001"]["hp_epochs"] == "10"


def test_run_folders_import_like_rows(tmp_path, registry):
    run = tmp_path / "results" / "run_20251115_165340"
    seq = {"experiment_id": "examples_mnist_001", "timestamp": "2025-11-15T16:54:10.5", "repository": "examples",
           "model": "mnist", "hyperparameters": {"epochs": 1, "learning_rate": 0.01}, "duration_seconds": 21.2,
           "energy_metrics": {"gpu_energy_total_joules": 2100.125, "cpu_energy_pkg_joules": 300.5,
                              "cpu_energy_ram_joules": 20.25, "gpu_power_avg_watts": 99.1},
           "performance_metrics": {"test_accuracy": 97.5}, "training_success": True, "retries": 0,
           "error_message": ""}
    par = {"experiment_id": "VulBERTa_mlp_013_parallel", "timestamp": "2025-11-15T17:04:56", "mode": "parallel",
           "foreground": {**seq, "repository": "VulBERTa", "model": "mlp", "hyperparameters": {"epochs": 1}},
           "background": {"repository": "VulBERTa", "model": "cnn", "hyperparameters": {}, "note": "GPU load"}}
    for data in (seq, par):
        (run / data["experiment_id"]).mkdir(parents=True)
        (run / data["experiment_id"] / "experiment.json").write_text(json.dumps(data, indent=2))
    report = import_paths([tmp_path / "results"], tmp_path / "store", registry)
    assert report.imported == 2
    recs = {r.imported.seed_experiment_id: r for r in open_store(tmp_path / "store", readonly=True).experiments()}
    assert recs["examples_mnist_001"].energy.gpu_energy_j == 2100.125 and recs["examples_mnist_001"].duration_s == 21.2
    assert recs["VulBERTa_mlp_013_parallel"].background.workload == "VulBERTa/cnn"
    assert recs["VulBERTa_mlp_013_parallel"].mode == "parallel"
    assert recs["examples_mnist_001"].imported.columns["hyperparam_learning_rate"] == "0.01"


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    header, rows = sample()
    good = write(tmp_path / "good.csv", header, rows)
    text = good.read_text()
    cases = {}
    other = tmp_path / "other.csv"
    other.write_text("name,score\nalice,3\n")
    cases["another shape"] = (other, "line 1")
    cut = tmp_path / "truncated.csv"
    cut.write_text(text[: len(text) - 400])
    cases["truncated"] = (cut, "line 6")
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 20)
    cases["garbage"] = (garbage, "line 1")
    bad_number = tmp_path / "bad_number.csv"
    rows2 = [dict(r) for r in rows]
    rows2[3]["energy_gpu_total_joules"] = "12,5"
    write(bad_number, header, rows2)
    cases["bad number"] = (bad_number, "line 5")
    bad_bool = tmp_path / "bad_bool.csv"
    rows3 = [dict(r) for r in rows]
    rows3[1]["training_success"] = "maybe"
    write(bad_bool, header, rows3)
    cases["bad boolean"] = (bad_bool, "line 3")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    cases["empty"] = (empty, "line 1")
    return cases


@pytest.mark.parametrize("case", ["another shape", "truncated", "garbage", "bad number", "bad boolean", "empty"])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, registry, case):
    path, line = _bad_files(tmp_path)[case]
    results = tmp_path / "results"
    import_paths([SAMPLE], results, registry)  # a store with history already
    before = len(open_store(results, readonly=True).experiments())
    with pytest.raises(ConfigError) as info:
        import_paths([path], results, registry)
    text = str(info.value)
    assert "\n" not in text and str(path) in text and line in text, text
    assert len(open_store(results, readonly=True).experiments()) == before


def test_a_bad_file_among_good_ones_imports_nothing(tmp_path, registry):
    good = generated(tmp_path / "good.csv", 20)
    bad, _ = _bad_files(tmp_path)["bad number"]
    with pytest.raises(ConfigError):
        import_paths([good, bad], tmp_path / "results", registry)
    assert not (tmp_path / "results" / "hyperwatt.db").exists() or not open_store(
        tmp_path / "results", readonly=True).experiments()


def test_values_that_do_not_fit_and_unknown_workloads_are_kept_and_flagged(tmp_path, registry):
    header, rows = sample()
    odd = dict(rows[1], experiment_id="odd", hyperparam_epochs="5.5")
    stranger = dict(rows[1], experiment_id="stranger", repository="someone", model="else")
    path = write(tmp_path / "raw_data.csv", header, [odd, stranger])
    (batch,) = read_sources([path], registry)
    by_id = {m.record.imported.seed_experiment_id: m for m in batch.rows}
    assert by_id["odd"].record.hyperparameters["epochs"] == 5.5
    assert any("does not fit" in p for p in by_id["odd"].record.imported.problems)
    assert by_id["stranger"].record.workload == "someone/else" and by_id["stranger"].record.imported.defaulted == []
    assert any("unknown workload" in c for c in by_id["stranger"].causes)


def test_a_succeeded_row_without_energy_is_kept_and_counted(tmp_path, registry):
    """The real raw_data.csv holds succeeded rows whose energy_* cells are all empty (VulBERTa_mlp_008
    of 2025-12-14): imported, energy unavailable with the reason, and counted in the summary."""
    header, rows = sample()
    blank = {k: "" for k in header if k.startswith("energy_")}
    path = write(tmp_path / "raw_data.csv", header, [rows[0], dict(rows[1], **blank)])
    report = import_paths([path], tmp_path / "r", registry)
    recs = {r.imported.seed_experiment_id: r for r in open_store(tmp_path / "r", readonly=True).experiments()}
    bare = recs[rows[1]["experiment_id"]]
    assert bare.status == "succeeded" and not bare.energy.available and bare.energy.gpu_energy_j is None
    assert "no energy" in (bare.energy.reason or "")
    assert any("flagged 1: succeeded with no energy recorded" in line for line in report.lines())
    assert recs[rows[0]["experiment_id"]].energy.available
