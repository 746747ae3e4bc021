"""benchmarks/peers.py: its reference and its judging, on the simulated GPU and on scripted counter reads."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import pytest  # noqa: E402
from peers import Reference, bound_coverage, locate_steps, replay, summarize  # noqa: E402

RECORDED = sorted((BENCH / "recorded").glob("peers-*/*/peers.timelines.json"))


IDLE_W, LOAD_W, WARM_W, DECAY_S = 70.0, 600.0, 8.0, 1.0


def _energy(t: float) -> float:
    """Exact energy since 0 of: idle, a load over [2, 4) s, then a warmer idle decaying back."""
    e = IDLE_W * t + (LOAD_W - IDLE_W) * min(max(t - 2.0, 0.0), 2.0)
    if t > 4.0:
        e += WARM_W * DECAY_S * (1 - math.exp(-(t - 4.0) / DECAY_S))
    return e


def _reads(t_start: float, t_end: float, period: float = 0.1, phase: float = 0.037, cost: float = 0.0035):
    """Back-to-back reads of a counter stepping every `period` s."""
    reads, t = [], t_start
    while t < t_end:
        last_step = math.floor((t - phase) / period) * period + phase
        reads.append((t, t + cost, _energy(last_step)))
        t += cost
    return reads


def test_reference_models_the_warmer_idle_after_a_load():
    pre = locate_steps(_reads(0.2, 1.98))
    post = locate_steps(_reads(4.05, 7.0))
    assert len(pre) >= 15 and all(abs(b.t - a.t - 0.1) < 0.01 for a, b in zip(pre, pre[1:]))
    ref = Reference(pre, post)
    t0, t1 = 1.99, 4.01
    truth = _energy(t1) - _energy(t0)
    energy, bound = ref.energy(t0, t1)
    assert abs(energy - truth) <= bound
    assert bound < 0.001 * truth
    # a constant idle (the level before the load) for the post pad would have been biased high
    constant = (post[-1].value_j - pre[-1].value_j) - IDLE_W * (t0 - pre[-1].t) - IDLE_W * (post[-1].t - t1)
    assert constant - truth > 5 * bound


def test_peers_fake_run(tmp_path: Path):
    done = subprocess.run([sys.executable, str(BENCH / "peers.py"), "--fake", "--out", str(tmp_path), "--repeats",
                           "1"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "peers.json").read_text())
    assert (tmp_path / "peers.md").read_text().strip() == done.stdout.strip()
    assert len(result["trials"]) == 4
    for trial in result["trials"]:  # the reference is within its own bound of the simulated truth
        ref_j, ref_bound = trial["reference"]["hyperwatt"]
        assert abs(ref_j - trial["true_j"]) <= ref_bound
    cov = result["bound_coverage"]
    assert cov["trials"] == 4 and cov["covered"] == 4
    rows = {r["case"]: r for r in result["summary"]}
    assert all(r["meets_target"] for r in rows.values())
    assert all(r["beats_peers"] is None for r in rows.values())  # peers need a real GPU: skipped, said so
    assert "Zeus and CodeCarbon need a real GPU" in done.stdout
    assert rows["burst-2s"]["counter_at_edges"]["max_abs_pct"] > rows["burst-2s"]["hyperwatt"]["max_abs_pct"]
    # the run can be replayed: hyperwatt's estimates made again from the samples it recorded
    timelines = json.loads((tmp_path / "peers.timelines.json").read_text())
    assert [t["case"] for t in timelines] == [t["case"] for t in result["trials"]]
    assert all(len(t["samples"]) > 20 and t["t0"] < t["t1"] for t in timelines)
    again = subprocess.run([sys.executable, str(BENCH / "peers.py"), "--replay", str(tmp_path)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"replayed by this checkout from the samples recorded in {tmp_path}" in again.stdout
    table = [line for line in done.stdout.splitlines() if line.startswith("| burst")]
    assert table and table == [line for line in again.stdout.splitlines() if line.startswith("| burst")]


@pytest.mark.parametrize("run", [p.parent for p in RECORDED], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recorded_gpu_runs_meet_the_targets_when_replayed(run: Path):
    """The H200 runs of 2026-12-03, re-estimated by this checkout from the samples they recorded:
    every case meets its target and beats Zeus and CodeCarbon, and the bound covers every error."""
    trials, device, _ = replay(run)
    assert "H200" in device and len(trials) >= 16
    rows = summarize(trials)
    assert {r["case"] for r in rows} == {"burst-2s", "burst-5s", "burst-30s", "onoff-250ms-10s"}
    for row in rows:
        assert row["meets_target"], row
        assert row["beats_peers"], row
    coverage = bound_coverage(trials)
    assert coverage["covered"] == coverage["trials"] == len(trials)
