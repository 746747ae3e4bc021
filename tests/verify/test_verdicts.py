"""One rule per verdict: verification.md's overall table, its per-row tables, summary.csv and
`status` answer every question the same way, on generated sessions of every status."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperwatt.config import ParallelPolicy, Plan
from hyperwatt.records import (
    Attempt, BackgroundRecord, BackgroundRunRecord, Energy, ExperimentRecord, Readiness, StopRecord,
)
from hyperwatt.store import SessionRow, SlotRow, frame
from hyperwatt.verify import apply, render
from hyperwatt.verify import verdicts as v

POLICY = ParallelPolicy()
PLAN = Plan(name="p", experiments=[{"workload": "a/b"}])
SESSION = SessionRow(session_id="s", name="p", plan_path="/p", plan_hash="h", results_dir="/r", started_wall=1.0,
                     status="completed", planned=1, host="h", pid=1, version="0")

#: Every way an experiment can end, as the engine writes it.
KINDS = ["ok", "failed", "bg_ineffective", "bg_not_ready", "low_load", "low_coverage", "slow_stop",
         "interrupted_in_training", "interrupted_before_background", "partial_energy", "seq_ok", "seq_failed",
         "seq_interrupted", "could_not_start"]


def _record(kind: str, slot: int) -> ExperimentRecord:
    parallel = not kind.startswith("seq_")
    ran = kind not in ("bg_ineffective", "bg_not_ready", "interrupted_before_background")
    interrupted = kind in ("interrupted_in_training", "seq_interrupted")
    attempt = Attempt(number=1, argv=["x"], cwd="/", log="l", started_wall=105.0,
                      duration_s=None if kind == "could_not_start" else (10.0 if interrupted else 20.0),
                      exit_code=None if interrupted or kind == "could_not_start" else (3 if "failed" in kind else 0),
                      interrupted=interrupted, succeeded=kind not in ("failed", "seq_failed", "could_not_start")
                      and not interrupted, error="could not start: no such file" if kind == "could_not_start" else None)
    status = ("interrupted" if interrupted or kind == "interrupted_before_background" else
              "failed" if kind in ("failed", "seq_failed", "could_not_start") else
              "invalid" if kind in ("bg_ineffective", "bg_not_ready") else "succeeded")
    energy = Energy(available=ran and not interrupted and kind != "could_not_start",
                    gpu_energy_j=5000.0 if ran else None, partial=kind == "partial_energy",
                    window_start_wall=105.0 if ran else None, window_end_wall=125.0 if ran else None)
    bg = None
    if parallel and kind != "interrupted_before_background":
        bg = BackgroundRecord(
            workload="c/d", hyperparameters={}, argv=["y"], effective=kind != "bg_ineffective",
            coverage=(0.5 if kind == "low_coverage" else 1.0) if ran else None,
            mean_gpu_util_pct=(5.0 if kind == "low_load" else 95.0) if ran else None,
            readiness=Readiness(ready=kind not in ("bg_ineffective", "bg_not_ready"), waited_s=8.0, reason="r"),
            stop=StopRecord(latency_s=2.5 if kind == "slow_stop" else 0.06, escalated=False),
            runs=[BackgroundRunRecord(index=1, started_wall=97.0, ended_wall=125.0, duration_s=28.0, exit_code=-15,
                                      log="background/run-1.log", stopped_by_us=True, effective=True)],
        )
    rec = ExperimentRecord(
        experiment_id=f"e{slot}-{kind}", session_id="s", slot=slot, label="fixed", workload="a/b",
        mode="parallel" if parallel else "sequential", status=status, key="k", key_hash=f"h{slot}",
        started_wall=100.0, ended_wall=130.0, duration_s=attempt.duration_s,
        attempts=[] if not ran else [attempt], energy=energy, background=bg,
    )
    apply(rec, POLICY)  # as the engine does before writing the record
    return rec


def _overall(text: str, label: str) -> tuple[int, int, int]:
    m = re.search(rf"^\| {re.escape(label)} \| (\d+)/(\d+)(?:, (\d+) not measured)?", text, re.M)
    assert m, label
    return int(m[1]), int(m[2]), int(m[3] or 0)


def _column(text: str, section: str, column: str) -> list[str]:
    """The cells of one column of the first table under a `## section` heading."""
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in part.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    i = header.index(column)
    return [[c.strip() for c in row.strip("|").split("|")][i] for row in rows[2:]]


def _per_row(cells: list[str], total: int) -> tuple[int, int, int]:
    yes, no = cells.count("yes"), cells.count("NO")
    return yes, yes + no, total - yes - no


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(KINDS), min_size=1, max_size=14))
def test_overall_table_per_row_tables_summary_and_status_agree(kinds):
    records = [_record(k, i) for i, k in enumerate(kinds)]
    text = render(SESSION, [SlotRow(i, f"h{i}", "a/b", "fixed") for i in range(len(records))], records, PLAN)
    parallel = [r for r in records if r.mode == "parallel"]
    fg = _overall(text, "foreground trainings succeeded")
    assert fg == v.tally(v.foreground_succeeded(r) for r in records)
    assert fg == _per_row(_column(text, "Question 1", "foreground succeeded"), len(records))
    energy = _overall(text, "energy measured")
    assert energy == v.tally(v.energy_measured(r) for r in records)
    measured_rows = _column(text, "Energy and sensor health", "measured")
    assert energy[:2] == _per_row(measured_rows, len(measured_rows))[:2]
    df = frame(records)
    assert int(df["measured"].sum()) == energy[1] == sum(v.window_measured(r) for r in records)
    if parallel:
        bg = _overall(text, "backgrounds effective (really loaded the GPU)")
        effective_cells = [c for c in _column(text, "Question 1", "effective") if c != "—"]
        assert bg == _per_row(effective_cells, len(parallel))
        assert bg[0] == int(df["background_effective"].sum()) and bg[1] == int(df["background_effective"].count())
        cov = _overall(text, "coverage ≥ 99%")
        assert cov == _per_row(_column(text, "Question 2", "covered"), len(parallel))
        assert cov[0] == int(df["covered"].sum()) and cov[1] == int(df["covered"].count())
        stop = _per_row(_column(text, "Question 3", "stopped at once"), len(parallel))
        assert stop[0] == int(df["stopped_promptly"].sum())
    # interrupted and never-started experiments are never a yes
    for r in records:
        if r.status == "interrupted" or not r.attempts:
            assert v.foreground_succeeded(r) == v.NOT_MEASURED
            assert v.covered(r) == v.NOT_MEASURED and v.energy_measured(r) == v.NOT_MEASURED
        if r.status == "interrupted":
            assert v.background_effective(r) == v.NOT_MEASURED and v.outcome(r) == "not measured"


def test_the_sessions_the_issue_found_contradicting_themselves():
    """One background never passed the gate, one foreground never started, one interrupted 10 s in."""
    records = [_record("bg_not_ready", 0), _record("ok", 1), _record("interrupted_in_training", 2),
               _record("bg_ineffective", 3)]
    text = render(SESSION, [SlotRow(i, f"h{i}", "a/b", "fixed") for i in range(4)], records, PLAN)
    assert "| backgrounds effective (really loaded the GPU) | 1/3, 1 not measured |" in text
    assert "| coverage ≥ 99% | 1/1, 3 not measured |" in text
    assert "| foreground trainings succeeded | 1/1, 3 not measured |" in text
    assert "Verdict: **yes** (1/1 at ≥ 99%" not in text and "1/1, 3 not measured at ≥ 99%" in text
    flags = {r.experiment_id: [f.code for f in r.flags] for r in records}
    assert flags["e0-bg_not_ready"] == ["background_not_ready"]
    assert flags["e2-interrupted_in_training"] == []  # nothing measured: nothing to flag


def test_a_check_and_its_verdict_say_the_same():
    for kind in KINDS:
        r = _record(kind, 0)
        codes = {f.code for f in r.flags}
        if r.mode == "parallel":
            assert (v.background_effective(r) == v.NO) == bool(codes & set(v.BACKGROUND_FLAGS)), kind
            assert (v.covered(r) == v.NO) == ("low_coverage" in codes), kind
        assert (v.outcome(r) == "invalid") == (r.status in ("failed", "invalid")), kind
