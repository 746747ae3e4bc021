"""The runner killed at random moments (SIGKILL, SIGINT, SIGTERM), resumed each time: the plan
completes exactly once, nothing leaks, the store stays intact. benchmarks/chaos.py runs N = 50."""

import pytest

from tests.engine.chaos import run_chaos


@pytest.mark.slow  # kills and resumes the runner ~6 times (~18 s); `make test` runs it
def test_chaos_small(tmp_path):
    report = run_chaos(tmp_path / "p", kills=4, seed=3, max_delay_s=2.5)
    assert report.kills == 4
    assert report.leaks == [] and report.lost == [] and report.duplicated == []
    assert report.integrity == "ok"
