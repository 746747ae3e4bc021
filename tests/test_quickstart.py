"""plans/quickstart.toml teaches something true: every effect its report states with an interval survives a rerun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hyperwatt.analysis import analyse
from hyperwatt.analysis.summary import summary_text
from hyperwatt.store import open_store

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "plans" / "quickstart.toml"


def _run(results: Path) -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # the CPU, as on a newcomer's laptop
    proc = subprocess.run([sys.executable, "-m", "hyperwatt", "run", str(QUICKSTART), "-o", str(results), "-q"],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _changes(results: Path) -> tuple[dict[tuple[str, str], object], str]:
    store = open_store(results, readonly=True)
    try:
        analysis = analyse(store.experiments())
    finally:
        store.close()
    (group,) = analysis.groups
    out = {(ch.setting.key_hash, d.quantity.key): d for ch in group.changes for d in ch.deltas}
    return out, summary_text(analysis)


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_every_effect_the_quickstart_states_with_an_interval_is_consistent_with_a_rerun(tmp_path: Path) -> None:
    _run(tmp_path / "first")
    _run(tmp_path / "second")
    first, text = _changes(tmp_path / "first")
    second, _ = _changes(tmp_path / "second")
    assert "no effect is claimed" not in text  # three runs per setting: every change has its interval
    stated = {k: d for k, d in first.items() if d.ci95 is not None}  # type: ignore[attr-defined]
    assert len(stated) >= 2 * 4, text  # two settings against the default, energy, duration and metrics
    for key, d in stated.items():
        again = second[key]
        assert again.ci95 is not None, key  # type: ignore[attr-defined]
        lo, hi = d.ci95  # type: ignore[attr-defined]
        lo2, hi2 = again.ci95  # type: ignore[attr-defined]
        # consistent: the two runs' 95% intervals of the same change overlap (an effect claimed by
        # the first run is not contradicted by the second)
        assert lo <= hi2 and lo2 <= hi, (key, d.text(), again.text(), text)  # type: ignore[attr-defined]
