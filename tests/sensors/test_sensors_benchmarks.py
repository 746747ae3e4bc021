"""The benchmarks' CPU smoke modes (--fake) run end to end and write their reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH / script), "--fake", *args], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_energy_accuracy_fake(tmp_path: Path):
    out = _run("energy_accuracy.py", "--out", str(tmp_path), "--repeats", "2")
    result = json.loads((tmp_path / "energy_accuracy.json").read_text())
    assert (tmp_path / "energy_accuracy.md").read_text().strip() == out.strip()
    assert len(result["trials"]) == 8
    by_case = {r["case"]: r for r in result["summary"]}
    assert set(by_case) == {"burst-2s", "burst-5s", "burst-30s", "onoff-250ms-10s"}
    for row in by_case.values():
        assert row["meets_target"] and row["error_within_bound"]
        # the seed's 1 Hz sum and the edge-only counter are far worse than hyperwatt on short loads
        assert abs(row["counter_at_edges"]["mean_pct"]) > abs(row["hyperwatt"]["mean_pct"])
    assert abs(by_case["burst-2s"]["seed_nvidia_smi_1hz"]["mean_pct"]) > 5.0
    assert "| burst-5s ×2 |" in out and "hyperwatt sampler:" in out


def test_monitor_overhead_fake(tmp_path: Path):
    # a short lead: the worker's busy loop runs through every lead (1 s by default), a core's worth of CPU
    out = _run("monitor_overhead.py", "--out", str(tmp_path), "--cycles", "2", "--block-seconds", "0.3",
               "--lead-seconds", "0.1", "--call-costs")
    result = json.loads((tmp_path / "monitor_overhead.json").read_text())
    assert (tmp_path / "monitor_overhead.md").read_text().strip() == out.strip()
    assert [s["mode"] for s in result["summary"]] == [
        "none", "hyperwatt", "hyperwatt-lock1", "nvidia-smi-1hz", "power-20hz", "counter-3hz"]
    assert len(result["blocks"]) == 12 and {b["cycle"] for b in result["blocks"]} == {0, 1}
    hw = [b for b in result["blocks"] if b["mode"] == "hyperwatt"]
    assert all(b["thread_error"] is None and 0 <= b["cpu_pct"] < 50 for b in hw)
    assert all("attributed_pct" in b for b in result["blocks"] if b["mode"] != "none")
    assert result["monitor_defaults"]["lock_interval_s"] == 10.0  # the engine's, not the class's 1 s
    assert {r["call"] for r in result["call_costs"]} >= {"nvmlDeviceGetTotalEnergyConsumption"}
    assert "| hyperwatt |" in out and "sampler CPU" in out and "Which call costs what" in out


def test_lifecycle_stops_fake(tmp_path: Path):
    out = _run("lifecycle.py", "--out", str(tmp_path), "--stops", "5", "--pool", "3", "--min-load-s", "0.2")
    result = json.loads((tmp_path / "lifecycle.json").read_text())["stops"]
    rows = [json.loads(line) for line in (tmp_path / "lifecycle_stops.jsonl").read_text().splitlines()]
    assert result["n"] == result["requested"] == len(rows) == 5
    assert all(r["survivors"] == [] and r["loading_s"] >= 0.2 for r in rows)
    assert result["p99_ms"] <= result["max_ms"] and result["interrupted"] is None and result["error"] is None
    assert "Stop latency over 5 stops" in out
