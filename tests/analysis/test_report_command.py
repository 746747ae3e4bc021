import json
from pathlib import Path

import pytest

from hyperwatt.analysis import report_command
from hyperwatt.errors import ConfigError
from hyperwatt.store import SessionLayout, SessionRow, SlotRow, open_store

from .factories import record
from .test_plots import COLUMNS


def _session(store, sid: str, started: float) -> None:
    store.begin_session(SessionRow(session_id=sid, name=f"plan-{sid}", plan_path="plans/p.toml", plan_hash="abc123",
                                   results_dir="results", started_wall=started, status="finished", planned=2,
                                   host="node-a", pid=1, version="0.1.0"))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """Two sessions; the second skipped the default setting because the first had measured it."""
    store = open_store(tmp_path)
    _session(store, "s1", 1.0)
    _session(store, "s2", 2.0)
    default = record(session="s1", hp={"learning_rate": 0.01}, gpu_j=100.0)
    default.energy.timeline = "energy/timeline.csv"
    mutated = record(session="s2", hp={"learning_rate": 0.02}, mutated=("learning_rate",), gpu_j=90.0)
    store.save_experiment(default)
    store.save_experiment(mutated)
    store.save_slots("s2", [SlotRow(0, default.key_hash, "examples/mnist", "default", "already in the store"),
                            SlotRow(1, mutated.key_hash, "examples/mnist", mutated.label)])
    store.close()
    timeline = SessionLayout(tmp_path, "s1").experiment(default.experiment_id).timeline
    timeline.parent.mkdir(parents=True)
    rows = [f"gpu0,{i * 0.1},{1000 + i * 0.1},{150.0},,{i * 15.0},,,,," for i in range(30)]
    timeline.write_text(COLUMNS + "\n" + "\n".join(rows) + "\n")
    return tmp_path


def test_latest_session_report_reuses_the_deduplicated_default(results: Path) -> None:
    lines: list[str] = []
    path = report_command(None, results, None, False, echo=lines.append)
    assert path == SessionLayout(results, "s2").report and path.exists()
    html = path.read_text()
    assert "session s2" in html and "plan-s2" in html
    assert "earlier sessions stand in" in html  # the default came from s1
    assert "power timeline of" in html  # s1's timeline, found under s1's folder
    (summary,) = lines
    assert "2 experiments, 2 valid" in summary
    assert "vs default: learning_rate ×2 → observed once: GPU energy −10.0%" in summary  # n = 1: no claim
    assert f"report: {path}" in summary and summary.endswith(f"findings: {path.with_name('findings.json')}")
    assert json.loads(path.with_name("findings.json").read_text())["schema"] == "hyperwatt.findings/1"


def test_all_sessions_to_an_explicit_out(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "r.html"
    assert report_command(None, results, out, True) == out
    html = out.read_text()
    assert "all sessions" in html and "plan-s1" in html and "plan-s2" in html
    assert not (results / "report.html").exists()


@pytest.mark.parametrize("session, all_sessions, needle", [
    ("nope", False, "no session 'nope'"),
    ("s1", True, "not both"),
])
def test_bad_input_is_one_line(results: Path, session: str, all_sessions: bool, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        report_command(session, results, None, all_sessions)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_no_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no results store"):
        report_command(None, tmp_path, None, False)
    assert not (tmp_path / "hyperwatt.db").exists()


def test_empty_store(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    with pytest.raises(ConfigError, match="no session yet"):
        report_command(None, tmp_path, None, False)


def test_report_of_a_session_the_engine_ran(write_plan, run_toy) -> None:
    """Real records (CPU only, no sensors): energy is unavailable and the report says so."""
    plan = write_plan('''
        [[experiments]]
        workload = "toy/net"
        include_default = true
        mutate = { parameters = ["lr"], mutations = 1 }
    ''')
    result = run_toy(plan)
    lines: list[str] = []
    path = report_command(result.session_id, result.layout.results_dir, None, False, echo=lines.append)
    html = path.read_text()
    assert path == result.layout.report
    assert "<b>2</b> of 2 experiment(s) valid" in html and "not measured" in html
    assert "energy not measured" in lines[0] and "vs default: lr ×" in lines[0]
