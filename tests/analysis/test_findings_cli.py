"""`hyperwatt report` and `hyperwatt compare` as a user types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .synthetic import study
from .test_findings import interaction_law
from .test_findings_report import _store


def hw(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hyperwatt", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HYPERWATT_CARBON_INTENSITY": "100"})


def test_report_and_compare_from_the_command_line(tmp_path: Path) -> None:
    _store(tmp_path, {"s1": study(interaction_law, {"epochs": [10, 2, 5]}, seed=1),
                      "s2": study(interaction_law, {"epochs": [10, 2, 5]}, seed=2)})
    res = hw("report", "s1", "s2", "-o", str(tmp_path), "--workload", "examples/*", "--saving", "0.2", "--pue", "1.5",
             "--split-methods", "--target", "test_accuracy=0.9")
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "findings.json").read_text())
    assert data["parameters"]["saving"] == 0.2 and data["parameters"]["targets"] == {"test_accuracy": 0.9}
    assert data["carbon"]["intensity_g_per_kwh"] == 100.0 and data["carbon"]["pue"] == 1.5
    assert "findings:" in res.stdout and "correlation:" in res.stdout
    res = hw("compare", "s1", "session=s2,mode=sequential", "-o", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "verdict: over 3 matched setting(s)" in res.stdout and (tmp_path / "compare.json").exists()
    bad = hw("report", "-o", str(tmp_path), "--target", "accuracy")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "METRIC=NUMBER" in bad.stderr
