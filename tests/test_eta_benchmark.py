"""benchmarks/eta_accuracy.py: its --fake mode end to end, and a replay of sessions recorded here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import eta_accuracy  # noqa: E402
import pytest  # noqa: E402


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


def _fake_plan(tmp_path, n):  # type: ignore[no-untyped-def]
    from hyperwatt.config import Registry, load_plan

    path = tmp_path / "plan.toml"
    path.write_text('name = "fake"\nseed = 1\n[timing]\nidle_baseline_s = 0\n[timing.cooldown]\nmin_s = 0\n'
                    '[[experiments]]\nworkload = "fake/cnn"\n'
                    f'hyperparameters = {{ epochs = 4 }}\nrepeats = {n}\n' + eta_accuracy.FAKE_WORKLOAD)
    return load_plan(path, Registry.builtin())


def _record(pe, session, status, start, seconds, slot="gpu0"):  # type: ignore[no-untyped-def]
    from hyperwatt.records import ExperimentRecord

    return ExperimentRecord(
        experiment_id=f"{session}-{pe.slot}", session_id=session, slot=pe.slot, label=pe.label,
        workload=pe.workload.name, mode=pe.mode, status=status, key=pe.key, key_hash=pe.key_hash,
        hyperparameters=pe.foreground.typed(), started_wall=start, ended_wall=start + seconds,
        duration_s=seconds if status == "succeeded" else None, environment={"slot": slot})


def test_a_session_cut_short_is_replayed_as_the_experiments_that_finished(tmp_path):
    from hyperwatt.mutation import expand

    loaded = _fake_plan(tmp_path, 10)
    planned = expand(loaded).experiments
    # six ran 40 s each, the seventh was interrupted after 5 s, three never started
    records = [_record(pe, "s", "succeeded", 1000.0 + 40 * i, 40.0) for i, pe in enumerate(planned[:6])]
    records.append(_record(planned[6], "s", "interrupted", 1240.0, 5.0))
    r = eta_accuracy.replay(loaded, "s", 1000.0, records, [], 0.2)
    assert r is not None and (r.experiments, r.cut_short, r.observed) == (6, 4, 1)
    assert r.actual_s == 200.0  # from the first finish to the sixth: the interrupted one is not in the truth
    assert r.eta_s is not None and abs(r.error_pct) < 10 and r.in_range  # one 40 s run, five more to come


def test_a_session_on_two_slots_spreads_the_eta_and_counts_the_running_ones(tmp_path):
    from hyperwatt.mutation import expand

    loaded = _fake_plan(tmp_path, 10)
    planned = expand(loaded).experiments
    # two slots, 40 s each, the second slot 20 s behind the first
    records = [_record(pe, "s", "succeeded", 1000.0 + 40 * (i // 2) + 20 * (i % 2), 40.0, f"gpu{i % 2}")
               for i, pe in enumerate(planned)]
    r = eta_accuracy.replay(loaded, "s", 1000.0, records, [], 0.2)
    assert r is not None and r.slots == 2 and r.observed == 2
    assert r.actual_s == 160.0  # the second finished at 1060, the last at 1220
    # eight left, one of them half done: (7 x 40 + 20) / 2 = 150 s (the slots end 20 s apart)
    assert r.eta_s == pytest.approx(150, rel=0.02) and r.in_range
