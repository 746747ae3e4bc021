"""The console display of a session: what a user is told about each finished experiment."""

from __future__ import annotations

import io

import pytest

from rich.console import Console

from hyperwatt.console import Output
from hyperwatt.engine.eta import Estimator
from hyperwatt.progress import ConsoleEvents
from hyperwatt.records import Attempt
from tests.analysis.factories import record


def _finished(events: ConsoleEvents, matches: dict[str, int], metrics: dict[str, float],
              problems: list[str] | None = None, workload: str = "lab/net", exit_code: int | None = 0,
              interrupted: bool = False):
    rec = record(workload=workload, metrics=metrics)
    rec.attempts = [Attempt(number=1, argv=["x"], cwd="/", log="attempt-1/training.log", started_wall=0.0,
                            exit_code=exit_code, interrupted=interrupted, metrics=metrics, metric_matches=matches,
                            metric_problems=problems or [], succeeded=exit_code == 0)]
    events.experiment_finished(rec)
    return rec


class _Capture:
    """The events' plain output (not a terminal), read like capsys."""

    def __init__(self) -> None:
        self.buf = io.StringIO()

    def events(self) -> ConsoleEvents:
        ev = ConsoleEvents(Output(Console(file=self.buf)), Estimator(lambda w: []))
        ev.total = 17
        return ev

    def readouterr(self) -> _Capture:
        self.out = self.buf.getvalue()
        self.buf.seek(0)
        self.buf.truncate()
        return self


@pytest.fixture
def capsys() -> _Capture:  # noqa: F811 - these tests read the events' own stream
    return _Capture()


def test_patterns_that_matched_nothing_are_noted_once_per_workload(capsys):
    events = capsys.events()
    rec = _finished(events, {"acc": 2, "train_loss": 0, "first_loss": 0}, {"acc": 0.9})
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (f"[{rec.slot + 1}/17] note: no match in {rec.experiment_id}/attempt-1/training.log for the "
                      "pattern(s) of first_loss, train_loss (reported once per workload)")
    _finished(events, {"acc": 2, "train_loss": 0, "first_loss": 0}, {"acc": 0.8})
    assert "note" not in capsys.readouterr().out  # already said
    _finished(events, {"train_loss": 0}, {}, workload="lab/other")
    assert "pattern(s) of train_loss" in capsys.readouterr().out


def test_a_metric_from_the_metrics_file_needs_no_pattern_match(capsys):
    events = capsys.events()
    _finished(events, {"acc": 0}, {"acc": 0.9})
    assert "note" not in capsys.readouterr().out


def test_unreadable_values_are_noted(capsys):
    events = capsys.events()
    _finished(events, {"acc": 0}, {}, problems=["acc: matched 'acc: n/a' but 'n/a' is not a number"])
    out = capsys.readouterr().out
    assert "note: metric problems: acc: matched 'acc: n/a' but 'n/a' is not a number" in out


def test_a_training_that_did_not_finish_says_nothing_about_its_patterns(capsys):
    events = capsys.events()
    _finished(events, {"acc": 0}, {}, exit_code=-2, interrupted=True)
    _finished(events, {"acc": 0}, {}, exit_code=1)
    assert "note" not in capsys.readouterr().out
    _finished(events, {"acc": 0}, {})  # the first finished run still gets the note
    assert "pattern(s) of acc" in capsys.readouterr().out


def test_the_line_of_a_finished_experiment_has_everything_on_one_line(capsys):
    events = capsys.events()
    rec = record(workload="pytorch_examples/mnist", hp={"lr": 0.74}, mutated=("lr",), gpu_j=841.0, gpu_unc_j=1.0,
                 duration_s=9.1, metrics={"acc": 0.91, "loss": 0.25, "f1": 0.5, "top5": 0.99})
    rec.hyperparameter_args = {"lr": "0.74", "epochs": "3"}
    rec.slot = 2
    rec.attempts = [Attempt(number=1, argv=["x"], cwd="/", log="a.log", started_wall=0.0, exit_code=0,
                            metrics=rec.metrics, missing_metrics=["mAP"], succeeded=True)]
    events.experiment_finished(rec)
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("[3/17] pytorch_examples/mnist lr=0.74 succeeded 9.1 s 841±1 J | GPU 841±1 J")
    assert "acc=0.91 f1=0.5 loss=0.25 top5=0.99 mAP=missing" in line  # every metric, none dropped


def test_a_metric_name_with_a_newline_stays_on_the_experiments_one_line():
    from hyperwatt.progress import describe

    rec = record()
    rec.metrics = {"acc\n2": 2.0, "acc": 0.5}
    line = describe(rec)
    assert "\n" not in line and "acc 2=2" in line and "acc=0.5" in line
