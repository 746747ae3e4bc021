"""The metrics-file protocol, and `python -m hyperwatt.metricsfile FILE...` for scripts that write
their results to files of their own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hyperwatt.metricsfile import ENV_VAR, main, read, records_from


def test_hf_style_json_object_is_one_record(tmp_path):
    path = tmp_path / "all_results.json"
    path.write_text(json.dumps({"epoch": 3.0, "eval_accuracy": 0.91, "eval_loss": 0.25, "eval_samples": 872,
                                "task": "sst2", "fp16": True, "extra": {"nested": 1}, "none": None}))
    assert records_from(path) == [{"epoch": 3.0, "eval_accuracy": 0.91, "eval_loss": 0.25, "eval_samples": 872.0}]


def test_lightning_csv_rows_are_records_and_empty_cells_are_left_out(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train_loss,val_acc,test_acc,test_loss\n0,16,0.67,0.60,,\n1,32,0.63,0.72,,\n"
                    "1,32,,,0.7265625,6.36345386505127e-05\n")
    assert records_from(path) == [
        {"epoch": 0.0, "step": 16.0, "train_loss": 0.67, "val_acc": 0.60},
        {"epoch": 1.0, "step": 32.0, "train_loss": 0.63, "val_acc": 0.72},
        {"epoch": 1.0, "step": 32.0, "test_acc": 0.7265625, "test_loss": 6.36345386505127e-05},
    ]


def test_json_list_jsonl_and_tsv(tmp_path):
    (tmp_path / "h.json").write_text(json.dumps([{"loss": 1.0, "step": 1}, {"loss": 0.5, "step": 2}]))
    (tmp_path / "h.jsonl").write_text('{"loss": 1.0}\n\n{"loss": 0.25}\n')
    (tmp_path / "h.tsv").write_text("loss\tname\n0.125\tx\n")
    assert [r["loss"] for r in records_from(tmp_path / "h.json")] == [1.0, 0.5]
    assert [r["loss"] for r in records_from(tmp_path / "h.jsonl")] == [1.0, 0.25]
    assert records_from(tmp_path / "h.tsv") == [{"loss": 0.125}]


def test_main_appends_to_the_metrics_file_and_the_last_value_wins(tmp_path, monkeypatch):
    (tmp_path / "metrics.csv").write_text("epoch,val_acc\n0,0.5\n1,0.75\n")
    target = tmp_path / "metrics.jsonl"
    target.write_text('{"from_script": 1}\n')
    monkeypatch.setenv(ENV_VAR, str(target))
    assert main([str(tmp_path / "metrics.csv")]) == 0
    assert read(target) == ({"from_script": 1.0, "val_acc": 0.75}, [])


@pytest.mark.parametrize("content, name, message", [
    (None, "missing.json", "missing.json: file not found"),
    ("{not json", "bad.json", "bad.json: Expecting property name"),
    ("[1, 2]", "list.json", "list.json: holds something other than objects"),
])
def test_a_file_it_cannot_read_is_one_line_and_exit_1(tmp_path, content, name, message):
    if content is not None:
        (tmp_path / name).write_text(content)
    proc = subprocess.run([sys.executable, "-m", "hyperwatt.metricsfile", str(tmp_path / name)],
                          capture_output=True, text=True, env={ENV_VAR: str(tmp_path / "m.jsonl")}, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "m.jsonl").exists()


def test_without_the_variable_it_prints_the_records(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    (tmp_path / "r.json").write_text('{"acc": 0.5}')
    assert main([str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out == '{"acc": 0.5}\n'
    assert main([]) == 2


def test_phase_events_are_read_apart_from_metrics(tmp_path, monkeypatch):
    from hyperwatt.metricsfile import PhaseEvent, emit, phase, read_phases

    path = tmp_path / "metrics.jsonl"
    monkeypatch.setenv(ENV_VAR, str(path))
    phase("startup")
    phase("train", epoch=1, samples=60000)
    emit(epoch=1, train_loss=0.5)
    phase("evaluation")
    emit(test_accuracy=0.9)
    values, problems = read(path)
    assert values == {"train_loss": 0.5, "test_accuracy": 0.9} and problems == []
    events, problems = read_phases(path)
    assert problems == []
    assert [(e.phase, e.epoch, e.samples) for e in events] == [
        ("startup", None, None), ("train", 1, 60000), ("evaluation", None, None)]
    assert all(isinstance(e, PhaseEvent) and e.t_wall > 1e9 for e in events)
    assert events[0].t_wall <= events[1].t_wall <= events[2].t_wall


def test_malformed_phase_events_are_named_and_skipped(tmp_path):
    from hyperwatt.metricsfile import read_phases

    path = tmp_path / "metrics.jsonl"
    lines = [
        {"event": "phase", "phase": "train", "t": 1.7e9},
        {"event": "phase", "phase": "", "t": 1.7e9},
        {"event": "phase", "phase": "train", "t": "soon"},
        {"event": "phase", "phase": "train", "t": 1.7e9, "epoch": -1},
        {"event": "phase", "phase": "train", "t": 1.7e9, "samples": True},
        {"event": "other", "what": 1},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    events, problems = read_phases(path)
    assert [e.phase for e in events] == ["train"]
    assert len(problems) == 4 and all("phase event ignored" in p for p in problems)
    assert "line 2" in problems[0] and "'t'" in problems[1] and "'epoch'" in problems[2]
    values, _ = read(path)
    assert values == {}  # events are never metrics
