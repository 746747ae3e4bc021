"""benchmarks/scale_out.py on local slots: N slots give N x the experiments per simulated hour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "scale_out.py"


def test_local_slots_scale_linearly(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH.parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(BENCH), "--executors", "local", "--slots", "1", "2", "4",
                           "--per-slot", "2", "--experiment-s", "0.3", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads((tmp_path / "scale_out.json").read_text())
    assert [r["slots"] for r in rows] == [1, 2, 4]
    for r in rows:
        assert r["ratio"] >= 0.9 and r["experiments"] == r["slots"] * 6
        assert abs(r["ideal_per_hour"] - 2.0 * r["slots"]) < 1e-9  # 30-minute experiments
    assert "| local | 4 |" in (tmp_path / "scale_out.md").read_text()
