"""benchmarks/eta_accuracy.py: its --fake mode end to end, and a replay of sessions recorded here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import eta_accuracy  # noqa: E402


def test_fake_mode_writes_its_table_and_meets_the_target(tmp_path):
    done = subprocess.run([sys.executable, str(BENCH / "eta_accuracy.py"), "--fake", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "eta_accuracy.json").read_text())
    assert data["at"] == 0.2 and len(data["sessions"]) == 2
    for s in data["sessions"]:
        assert abs(s["error_pct"]) <= 25 and s["in_range"]
        assert s["observed"] == 4 and s["experiments"] == 20
    assert "target ≤ 25 %: met" in (tmp_path / "eta_accuracy.md").read_text()


def test_replay_of_recorded_sessions_uses_only_earlier_history(write_plan, run_toy, toy_dir):
    plan = write_plan('''
[[experiments]]
workload = "toy/net"
include_default = true
hyperparameters = { sleep = 0.3 }
mutate = { parameters = ["epochs"], mutations = 3 }
''')
    run_toy(plan)
    run_toy(plan, rerun=True)
    first, second = eta_accuracy.replay_results(toy_dir / "results", None, 0.2)
    assert first.history_runs == 0 and second.history_runs == 4  # the first session's, nothing later
    assert (first.experiments, first.observed) == (4, 1)
    for r in (first, second):
        assert r.actual_s > 0 and r.eta_s is not None and r.error_pct is not None
    assert abs(second.error_pct) < 200  # a busy CI machine: sanity, not accuracy
