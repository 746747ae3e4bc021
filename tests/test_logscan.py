"""Log patterns run in a child process with a deadline: a catastrophic regex cannot hang the runner."""

from __future__ import annotations

import time

from hyperwatt.logscan import scan_with_deadline


def test_a_backtracking_pattern_is_named_and_the_others_still_count():
    text = "acc 0.91\nloss 6.4e-05\n" + "a" * 40 + "\n"
    patterns = {"acc": r"acc ([0-9.]+)", "loss": r"loss ([0-9.]+)", "bad": r"(a+)+b", "after": r"acc (\S+)"}
    t0 = time.monotonic()
    found, problem = scan_with_deadline(patterns, text, deadline_s=1.0)
    assert time.monotonic() - t0 < 10.0  # a 1 s deadline and two Python starts: ~1.5 s, 3 s when busy
    assert found["acc"] == [("acc 0.91", "0.91")]
    assert found["loss"] == [("loss 6.4", "6.4e-05")]  # the exponent after the group is kept
    assert "bad" not in found and found["after"] == [("acc 0.91", "0.91")]  # run again in a fresh child
    assert problem is not None and problem.startswith("log pattern(s) bad ('(a+)+b') ran past 1 s")


def test_no_patterns_start_no_process():
    assert scan_with_deadline({}, "text") == ({}, None)
