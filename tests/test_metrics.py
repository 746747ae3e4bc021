"""Reading a training's metrics from its log the way third-party scripts print them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperwatt.config import MetricsSpec
from hyperwatt.metrics import collect


def _collect(tmp_path: Path, log: str | bytes, patterns: dict, **spec: object):
    path = tmp_path / "training.log"
    path.write_bytes(log.encode() if isinstance(log, str) else log)
    return collect(MetricsSpec(file=False, patterns=patterns, **spec), None, path)


def test_progress_bar_redraws_are_lines_for_anchored_patterns(tmp_path):
    # tqdm / Lightning redraw with "\r"; tqdm.write (HF Trainer's log lines) clears the bar with
    # "\r" + blanks + "\r" first: on a terminal the dict starts a line, and `^` must match there
    log = ("Epoch 0:  50%|█████     | 1/2 [00:00, loss=0.91]\rEpoch 0: 100%|██████████| 2/2 [00:00, loss=0.80]"
           "\r  39%|███ | 50/128\r" + " " * 20 + "\r{'loss': 0.6919, 'epoch': 0.39}\n"
           "\rEpoch 1: 100%|██████████| 2/2 [00:00, loss=0.61]\n")
    result = _collect(tmp_path, log, {
        "epoch_loss": {"regex": r"^Epoch \d+: 100%.*loss=([0-9.]+)\]$", "match": "last"},
        "first_epoch_loss": {"regex": r"^Epoch \d+: 100%.*loss=([0-9.]+)", "match": "first"},
        "loss": r"^\{'loss': ([0-9.]+)",
    })
    assert result.values == {"epoch_loss": 0.61, "first_epoch_loss": 0.80, "loss": 0.6919}
    assert result.matches == {"epoch_loss": 2, "first_epoch_loss": 2, "loss": 1}


def test_dollar_matches_before_windows_line_ends(tmp_path):
    result = _collect(tmp_path, b"val loss 2.50\r\nval loss 2.25\r\n", {"val_loss": r"val loss ([0-9.]+)$"})
    assert result.values == {"val_loss": 2.25} and result.matches == {"val_loss": 2}


@pytest.mark.parametrize("printed, expected", [
    ("6.36345386505127e-05", 6.36345386505127e-05),
    ("1.5E+03", 1500.0),
    ("2e-3", 0.002),
    ("0.25", 0.25),
])
def test_a_number_in_exponent_notation_is_read_whole(tmp_path, printed, expected):
    # the rich table Lightning prints: str(float) switches to exponent notation below 1e-4
    log = f"│         test_loss         │{printed:^27s}│\n"
    result = _collect(tmp_path, log, {"test_loss": r"test_loss\s+│\s+([0-9.]+)"})
    assert result.values["test_loss"] == pytest.approx(expected) and not result.problems


def test_exponent_with_scale_and_pick(tmp_path):
    log = "lr 1e-3\nlr 5e-4\nlr 2e-3\n"
    result = _collect(tmp_path, log, {"lr_max": {"regex": r"lr ([0-9.]+)", "match": "max", "scale": 1000}})
    assert result.values == {"lr_max": pytest.approx(2.0)}


def test_a_pattern_that_matches_past_its_group_keeps_its_own_reading(tmp_path):
    # the pattern deliberately consumed what follows the group: its author decided
    log = "acc=0.5e7 units\n"
    result = _collect(tmp_path, log, {"acc": r"acc=([0-9.]+)e7"})
    assert result.values == {"acc": 0.5}


def test_not_a_number_is_a_problem_not_a_value(tmp_path):
    result = _collect(tmp_path, "acc: n/a\n", {"acc": r"acc: (\S+)"}, required=["acc"])
    assert result.values == {} and result.missing == ["acc"]
    assert result.problems == ["acc: matched 'acc: n/a' but 'n/a' is not a number"]


def test_metrics_file_wins_over_a_pattern(tmp_path):
    log = tmp_path / "training.log"
    log.write_text("acc 0.1\n")
    mfile = tmp_path / "metrics.jsonl"
    mfile.write_text(json.dumps({"acc": 0.9}) + "\n")
    result = collect(MetricsSpec(patterns={"acc": r"acc ([0-9.]+)"}), mfile, log)
    assert result.values == {"acc": 0.9} and result.matches == {"acc": 1}


def test_colour_codes_are_not_part_of_the_text_a_pattern_sees(tmp_path):
    # rich's table with colours forced (FORCE_COLOR), loguru's coloured levels
    log = ("│\x1b[36m \x1b[0m\x1b[36m        test_acc         \x1b[0m\x1b[36m \x1b[0m│\x1b[35m \x1b[0m\x1b[35m"
           "   0.7265625   \x1b[0m\x1b[35m \x1b[0m│\n"
           "\x1b[32m2024-05-01 10:00:00\x1b[0m | \x1b[1mINFO    \x1b[0m | val_loss=\x1b[1m0.25\x1b[0m\n"
           "\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\ acc=0.5\n")
    result = _collect(tmp_path, log, {"test_acc": r"test_acc\s+│\s+([0-9.]+)", "val_loss": r"\| val_loss=([0-9.]+)$",
                                      "acc": r"^link acc=([0-9.]+)"})
    assert result.values == {"test_acc": 0.7265625, "val_loss": 0.25, "acc": 0.5}


@pytest.mark.parametrize("printed, scale, expected", [
    ("95.5", 0.01, 0.955), ("95", 0.01, 0.95), ("93.1", 0.01, 0.931), ("0.3", 3.0, 0.9), ("1e3", 0.001, 1.0),
    ("7", 1.0, 7.0),
])
def test_a_scaled_metric_is_the_decimal_a_person_would_write(tmp_path, printed, scale, expected):
    result = _collect(tmp_path, f"Test Accuracy: {printed}%\n",
                      {"acc": {"regex": r"Test Accuracy: ([0-9.e]+)%", "scale": scale}})
    assert repr(result.values["acc"]) == repr(expected)  # 95.5 * 0.01 in binary floats is 0.9550000000000001
