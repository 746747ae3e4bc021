"""benchmarks/repeatability.py --fake: the engine end to end on a fake GPU, a toy training whose
start-up varies a lot and whose epochs hardly at all; the training phase repeats, the window not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "repeatability.py"


def test_repeatability_benchmark_fake(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--fake", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "repeatability.json").read_text())
    assert result["fake"] is True and result["invalid"] == []
    assert (tmp_path / "repeatability.md").read_text().strip() in done.stdout
    rows = {row["setting"]: row for row in result["settings"]}
    assert set(rows) == {"epochs=3", "epochs=10", "epochs=11"}
    three = rows["epochs=3"]
    assert three["n"] == 4
    # start-up uniform in 0.2..1.2 s around 0.36 s of epochs: the window spreads, the training phase hardly
    assert three["cv_window"] > 0.03 and three["cv_train"] < 0.1
    assert three["cv_train"] < three["cv_window"]
    # constant power: the training phase's energy is its duration's
    assert three["train_gpu_j"] == pytest.approx(150.0 * 0.36, rel=0.25)
    d = result["detection"]
    assert d["n"] == {"10": 2, "11": 2}
    train = d["phase:train:gpu_energy_j"]
    assert train["change"] == pytest.approx(0.1, abs=0.04)  # one epoch in ten more
    assert isinstance(train["detected"], bool) and isinstance(d["gpu_energy_j"]["detected"], bool)
