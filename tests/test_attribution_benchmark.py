"""benchmarks/attribution.py --fake: the whole measurement path on a scripted GPU whose truth is known."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "attribution.py"


def test_attribution_benchmark_fake(tmp_path: Path) -> None:
    # one pair (~13 s of sleeping processes): on the fake GPU every pair is the same script
    done = subprocess.run([sys.executable, str(BENCH), "--fake", "--out", str(tmp_path), "--pairs", "1"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "attribution.json").read_text())
    assert result["fake"] is True and len(result["pairs"]) == 1
    assert (tmp_path / "attribution.md").read_text().strip() in done.stdout
    for pair in result["pairs"]:
        # the fake GPU: idle 70 W, background 300 ± 20 W in 1-s phases, foreground +150 W alone and
        # +90 W while sharing; the foreground alone runs 2 s, 3 s while sharing
        assert pair["idle_w"] == pytest.approx(70.0, rel=0.02)
        assert pair["fg_alone_j"] == pytest.approx(220.0 * pair["fg_alone_s"], rel=0.03)
        assert pair["alone_before_w"] == pytest.approx(370.0, abs=21.0)
        assert pair["spread_w"] is not None and pair["spread_w"] > 0  # the phases show as spread
        assert pair["util_share"] == pytest.approx(0.25)
        rules = pair["rules"]
        assert set(rules) == {"device", "marginal (engine: alone before)", "marginal (alone before and after)",
                              "utilisation share"}
        engine = rules["marginal (engine: alone before)"]
        assert engine["bound_j"] is not None and engine["verdict"] == "above 0"
        # the foreground's own energy while sharing is 90 W x its window: inside the marginal's bound
        own = 90.0 * pair["both_s"]
        assert abs(engine["energy_j"] - own) <= engine["bound_j"]
        assert rules["device"]["error_vs_alone_pct"] > 100  # the whole device is not the foreground's
    assert "| rule | mean abs error vs alone |" in done.stdout
