"""The runner killed at random moments (SIGKILL, SIGINT, SIGTERM), resumed each time: the plan
completes exactly once, nothing leaks, the store stays intact. benchmarks/chaos.py runs N = 50."""

from tests.engine.chaos import run_chaos


def test_chaos_small(tmp_path):
    report = run_chaos(tmp_path / "p", kills=4, seed=3, max_delay_s=2.5)
    assert report.kills == 4
    assert report.leaks == [] and report.lost == [] and report.duplicated == []
    assert report.integrity == "ok"
