"""Property tests: whatever bytes a training writes to its metrics file or its log, reading them never
raises, every value is a float, every non-finite one is reported, and the record holding them reads back."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperwatt import logscan, metrics, metricsfile
from hyperwatt.config import MetricsSpec
from hyperwatt.records import Attempt, ExperimentRecord

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# what a training may put on a line: numbers of every size and kind, and things that are not numbers
_numbers = st.one_of(
    st.integers(), st.integers(min_value=10**300, max_value=10**320), st.floats(allow_nan=True, allow_infinity=True),
    st.just(-(10**400)),
)
_values = st.recursive(st.one_of(_numbers, st.booleans(), st.none(), st.text(max_size=20)),
                       lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner,
                                                                                            max_size=3)),
                       max_leaves=6)
_line = st.one_of(
    st.dictionaries(st.text(max_size=12), _values, max_size=6).map(lambda d: json.dumps(d, allow_nan=True)),
    st.text(max_size=200),
    st.just("[" * 50_000),  # nested past the parser's recursion limit
    st.just('{"x": ' + "1" * 5000 + ', "y": -' + "9" * 400 + "}"),  # past int()'s 4,300-digit limit
)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _check(values: dict[str, float], problems: list[str]) -> None:
    assert all(type(v) is float for v in values.values())
    for name, value in values.items():
        if not math.isfinite(value):
            assert any(name in p for p in problems), (name, value, problems)
    # the record holding them is written and read back as it was (no value can make it unreadable)
    record = ExperimentRecord(experiment_id="e", session_id="s", slot=0, label="l", workload="r/m",
                              mode="sequential", status="succeeded", key="k", key_hash="h", metrics=values,
                              attempts=[Attempt(number=1, argv=["x"], cwd="/", log="l", started_wall=0.0,
                                                metrics=values, metric_problems=problems)])
    text = record.model_dump_json()
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(AssertionError(f"non-JSON constant {c}")))
    back = ExperimentRecord.model_validate_json(text)
    assert back.metrics.keys() == values.keys()
    assert all(_same(back.metrics[k], v) for k, v in values.items())
    assert back.attempts[0].metric_problems == problems


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_in_the_metrics_file(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.jsonl"
        path.write_bytes(data)
        values, problems = metricsfile.read(path)
    _check(values, problems)


@FUZZ
@given(st.lists(_line, max_size=8))
def test_arbitrary_json_lines_in_the_metrics_file(lines):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
        values, problems = metricsfile.read(path)
    _check(values, problems)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=2000))
def test_the_in_process_scanner_on_arbitrary_text(text):
    for regex in (r"acc(?:uracy)?[:= ]+([0-9.eE+-]+)", r"loss (\S+)", r"^(\d+)$", r"no group here"):
        for matched, number in logscan.scan(regex, text):
            assert isinstance(matched, str) and (number is None or number in text)


_log_bytes = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.one_of(st.sampled_from([b"acc 0.5", b"acc nan", b"acc inf", b"acc -1e999", b"acc " + b"9" * 400,
                                        b"loss 1e-05\r", b"\x1b[31macc 0.9\x1b[0m", b"acc .", b"acc 1.2.3"]),
                       st.binary(max_size=40)), max_size=20).map(b"\n".join),
)


@settings(max_examples=40, deadline=None)  # each example runs the patterns in a child process
@given(_log_bytes)
def test_arbitrary_bytes_in_the_log_through_the_patterns(data):
    spec = MetricsSpec(file=False, patterns={"acc": {"regex": r"acc (\S+)"}, "loss": {"regex": r"loss ([0-9.eE+-]+)",
                                                                                       "match": "max"}})
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "training.log"
        log.write_bytes(data)
        result = metrics.collect(spec, None, log)
    _check(result.values, result.problems)
    assert set(result.values) <= {"acc", "loss"} and result.missing == []


_phase_line = st.fixed_dictionaries(
    {"event": st.sampled_from(["phase", "other"]), "phase": st.one_of(st.sampled_from(["train", "eval"]), _values),
     "t": st.one_of(st.floats(min_value=1.0, max_value=2e9), _values)},
    optional={"epoch": _values, "samples": _values},
).map(lambda d: json.dumps(d, allow_nan=True))


@FUZZ
@given(st.one_of(st.binary(max_size=2048), st.lists(st.one_of(_phase_line, _line), max_size=8)
                 .map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))))
def test_arbitrary_phase_events_in_the_metrics_file(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.jsonl"
        path.write_bytes(data)
        events, problems = metricsfile.read_phases(path)
    for e in events:
        assert metricsfile.PHASE_NAME.match(e.phase) and math.isfinite(e.t_wall) and e.t_wall > 0
        assert all(v is None or (type(v) is int and v >= 0) for v in (e.epoch, e.samples))
    assert all(isinstance(p, str) for p in problems)
