"""Per-attempt limits: the default timeout from the workload's estimate, overridable, "none" allowed."""

from __future__ import annotations

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine.limits import AUTO_TIMEOUT_FACTOR, AUTO_TIMEOUT_MIN_S, attempt_timeout_s, max_log_bytes
from hyperwatt.errors import ConfigError
from hyperwatt.mutation import expand

ESTIMATED = '''
[workloads."toy/slow"]
argv = ["{python}", "train.py"]
workdir = "."
estimated_duration_s = 600
[workloads."toy/slow".hyperparameters]
epochs = { flag = "--epochs", type = "int", default = 2, range = [1, 6] }
'''


def _experiments(write_plan, body: str, extra: str = ESTIMATED):
    return expand(load_plan(write_plan(extra + body), Registry.builtin())).experiments


def test_auto_timeout_scales_with_the_estimate_and_has_a_floor(write_plan):
    six, one = _experiments(write_plan, """
        [[experiments]]
        workload = "toy/slow"
        hyperparameters = { epochs = 6 }
        [[experiments]]
        workload = "toy/slow"
        hyperparameters = { epochs = 1 }
    """)
    assert six.timing.timeout_s == "auto"
    assert attempt_timeout_s(six) == pytest.approx(AUTO_TIMEOUT_FACTOR * 1800)  # 600 s at 2 epochs
    assert attempt_timeout_s(one) == AUTO_TIMEOUT_MIN_S  # 4 x 300 s is below the floor
    assert max_log_bytes(six) == 256 * 2**20


def test_a_workload_without_an_estimate_has_no_automatic_timeout(write_plan):
    (pe,) = _experiments(write_plan, '[[experiments]]\nworkload = "toy/net"\n')
    assert pe.timing.timeout_s == "auto" and attempt_timeout_s(pe) is None


def test_timeout_and_log_cap_are_overridable_and_none_is_allowed(write_plan):
    fixed, unlimited = _experiments(write_plan, """
        [[experiments]]
        workload = "toy/slow"
        timing = { timeout_s = 90, max_log_mib = 0.5 }
        [[experiments]]
        workload = "toy/slow"
        timing = { timeout_s = "none" }
    """)
    assert attempt_timeout_s(fixed) == 90.0 and max_log_bytes(fixed) == 2**19
    assert attempt_timeout_s(unlimited) is None


@pytest.mark.parametrize("value", ["true", '"soon"', "0", "-5"])
def test_a_bad_timeout_is_one_line(write_plan, value):
    with pytest.raises(ConfigError, match="timeout_s"):
        _experiments(write_plan, f'[[experiments]]\nworkload = "toy/slow"\ntiming = {{ timeout_s = {value} }}\n')


def test_a_run_without_any_time_limit_says_so_before_it_starts(write_plan, toy_dir):
    """"auto" without an estimate is no limit: a user's training that hangs held the session
    without a word. The run names the workloads it cannot time out, and how to give a limit."""
    from hyperwatt.engine import SessionEvents, SessionOptions, run_plan

    class Notes(SessionEvents):
        def __init__(self) -> None:
            self.lines: list[str] = []

        def message(self, text: str) -> None:
            self.lines.append(text)

    def notes(body: str) -> list[str]:
        events = Notes()
        run_plan(load_plan(write_plan(ESTIMATED + body), Registry.builtin()),
                 SessionOptions(results_dir=toy_dir / "results", sensors_factory=lambda p: None, rerun=True), events)
        return [line for line in events.lines if "no time limit" in line]

    (line,) = notes('[[experiments]]\nworkload = "toy/net"\nrepeats = 2\n')
    assert "no time limit for toy/net:" in line and "estimated_duration_s" in line and "timeout_s" in line
    assert notes('[[experiments]]\nworkload = "toy/net"\ntiming = { timeout_s = 60 }\n') == []
