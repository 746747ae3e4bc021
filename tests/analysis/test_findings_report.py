"""`hyperwatt report` with findings: report.html on top, findings.json beside it, for a large store too."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from hyperwatt.analysis import report_command
from hyperwatt.analysis.command import FindingsArgs
from hyperwatt.errors import ConfigError
from hyperwatt.store import SessionLayout, SessionRow, open_store

from .synthetic import imported, joint, study
from .test_findings import interaction_law

WORKLOADS = ("examples/mnist", "examples/mnist_ff", "examples/mnist_rnn", "examples/siamese",
             "pytorch_resnet_cifar10/resnet20", "Person_reID/densenet121")


def _session(store, sid: str, started: float, planned: int) -> None:
    store.begin_session(SessionRow(session_id=sid, name=f"plan-{sid}", plan_path="plans/p.toml", plan_hash="abc",
                                   results_dir="results", started_wall=started, status="finished", planned=planned,
                                   host="node-a", pid=1, version="0.1.0"))


def _store(path: Path, sessions: dict[str, list]) -> Path:
    store = open_store(path)
    for i, (sid, recs) in enumerate(sessions.items()):
        _session(store, sid, float(i), len(recs))
        for r in recs:
            r.session_id = sid
            store.save_experiment(r)
    store.close()
    return path


def test_report_writes_verdicts_on_top_and_findings_json(tmp_path: Path) -> None:
    recs = study(interaction_law, {"epochs": [10, 2, 5, 20, 40], "learning_rate": [0.01, 0.001, 0.1]})
    _store(tmp_path, {"s1": recs})
    plan = SessionLayout(tmp_path, "s1").plan
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text('name = "p"\n[carbon]\nintensity_g_per_kwh = 56.0\nsource = "RTE 2024"\n')
    lines: list[str] = []
    path = report_command("s1", tmp_path, None, False, echo=lines.append, args=FindingsArgs(pue=1.3))
    html = path.read_text()
    assert html.index("Which hyperparameters correlate with energy?") < html.index('id="overview"')
    for q in ("without losing performance?", "susceptible to hyperparameter changes in parallel mode?"):
        assert q in html
    assert "Higher epochs goes with more energy in 2 of 2 group(s)" in html
    assert not re.search(r"(src|href)=\"https?:", html)  # self-contained
    assert f"Energy method: nvml-energy-counter ({len(recs)} rows)" in html  # figures name their method
    data = json.loads((path.parent / "findings.json").read_text())
    assert data["sources"]["sessions"] == ["s1"] and data["sources"]["rows"] == len(recs)
    assert data["carbon"]["intensity_g_per_kwh"] == 56.0 and "RTE 2024" in data["carbon"]["intensity_source"]
    assert data["carbon"]["pue"] == 1.3 and "command line" in data["carbon"]["pue_source"]
    assert data["sensitivity"]["summary"]["parallel_significantly_more"] == 1
    assert "findings:" in lines[0] and "sensitivity: Parallel was more sensitive" in lines[0]


def test_several_sessions_a_workload_filter_and_split_methods(tmp_path: Path) -> None:
    own = study(interaction_law, {"epochs": [10, 2, 5]}, modes=("sequential",))
    old = [imported(r) for r in study(interaction_law, {"epochs": [10, 20, 30]}, modes=("sequential",))]
    other = study(interaction_law, {"epochs": [10, 2, 5]}, modes=("sequential",), workload="examples/mnist_ff")
    _store(tmp_path, {"own": own + other, "seed": old})
    path = report_command(["own", "seed"], tmp_path, None, False, workloads=["examples/mnist"])
    assert path == tmp_path / "report.html"
    data = json.loads((tmp_path / "findings.json").read_text())
    assert data["sources"]["sessions"] == ["own", "seed"] and {g["workload"] for g in data["groups"]} == {"examples/mnist"}
    assert data["provenance"]["mixed"] and "mixes energy methods" in path.read_text()
    out = tmp_path / "split.html"
    report_command(["own", "seed"], tmp_path, out, False, args=FindingsArgs(split_methods=True))
    data = json.loads((tmp_path / "split.findings.json").read_text())
    assert {g["method_split"] for g in data["groups"] if g["workload"] == "examples/mnist"} == {
        "nvml-energy-counter", "nvidia-smi-1hz-sum"}


@pytest.mark.parametrize("kwargs, needle", [
    ({"workloads": ["nope/*"]}, "no experiment of nope/*"),
    ({"args": FindingsArgs(saving=1.5)}, "--saving"),
    ({"args": FindingsArgs(tolerance=-0.1)}, "--tolerance"),
    ({"args": FindingsArgs(targets=("accuracy",))}, "METRIC=NUMBER"),
])
def test_bad_options_are_one_line(tmp_path: Path, kwargs, needle) -> None:
    _store(tmp_path, {"s1": study(interaction_law, {"epochs": [10, 2]}, modes=("sequential",))})
    with pytest.raises(ConfigError, match=re.escape(needle)) as err:
        report_command(None, tmp_path, None, False, **kwargs)
    assert "\n" not in str(err.value)


def test_a_report_of_1200_experiments_builds_in_seconds(tmp_path: Path) -> None:
    values = {"epochs": [2, 5, 10, 20], "batch_size": [16, 32, 64, 128], "learning_rate": [0.001, 0.01, 0.1]}
    recs = []
    for i, wl in enumerate(WORKLOADS):
        for j, mode in enumerate(("sequential", "parallel")):
            recs += joint(lambda m, hp: 10.0 * hp["epochs"], values, 100, mode, workload=wl, seed=10 * i + j)
    assert len(recs) == 1200
    _store(tmp_path, {"big": recs})
    started = time.perf_counter()
    path = report_command(None, tmp_path, None, False)
    elapsed = time.perf_counter() - started
    data = json.loads(path.with_name("findings.json").read_text())
    assert data["sources"]["rows"] == 1200 and len(data["groups"]) == 12
    assert elapsed < 90, f"{elapsed:.1f} s"  # about 10-15 s on a busy 2-core machine; 3x margin and more


def test_edge_cases_render(tmp_path: Path) -> None:
    """One row, constant energy, no metric, a failed run, one mode: the report still builds and says why."""
    from .factories import record

    recs = [record(hp={"epochs": 10}, gpu_j=100.0, metrics={}),
            record(hp={"epochs": 5}, mutated=("epochs",), gpu_j=100.0, metrics={}),
            record(hp={"epochs": 2}, mutated=("epochs",), gpu_j=100.0, metrics={}),
            record(workload="examples/mnist_ff", hp={"epochs": 3}, gpu_j=50.0),
            record(workload="examples/mnist_ff", hp={"epochs": 4}, gpu_j=None, status="failed")]
    _store(tmp_path, {"s1": recs})
    path = report_command(None, tmp_path, None, False)
    html = path.read_text()
    assert "energy constant in these rows" in html and "cannot be judged" in html
    data = json.loads(path.with_name("findings.json").read_text())
    assert data["sources"] == {**data["sources"], "experiments": 5, "excluded": 1, "rows": 4}
    assert "nothing to compare" in data["verdicts"]["sensitivity"]
