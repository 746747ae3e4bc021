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
    out = _run("monitor_overhead.py", "--out", str(tmp_path), "--repeats", "1", "--seconds", "0.3")
    result = json.loads((tmp_path / "monitor_overhead.json").read_text())
    assert [s["mode"] for s in result["summary"]] == ["none", "hyperwatt", "nvidia-smi-1hz"]
    runs = {r["mode"]: r for r in result["runs"]}
    assert runs["hyperwatt"]["sampler_cpu_pct"] is not None and runs["hyperwatt"]["sampler_cpu_pct"] < 50
    assert runs["hyperwatt"]["thread_error"] is None
    assert runs["nvidia-smi-1hz"]["smi_samples"] >= 1
    assert "| hyperwatt |" in out and "sampler CPU" in out
