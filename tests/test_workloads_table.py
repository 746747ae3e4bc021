"""benchmarks/workloads_table.py's training-phase utilisation: the busiest stretch, checked by brute force."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "workloads_table", Path(__file__).resolve().parents[1] / "benchmarks" / "workloads_table.py")
assert _spec is not None and _spec.loader is not None
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)


def _brute(samples: list[tuple[float, float]], length: float) -> float:
    """Every start on a fine grid and at the samples' own edges, each stretch's samples averaged."""
    t0, t1 = samples[0][0], samples[-1][0]
    if t1 - t0 <= length:
        return sum(v for _, v in samples) / len(samples)
    grid = [t0 + (t1 - length - t0) * k / 2000 for k in range(2001)]
    edges = [a for t, _ in samples for a in (t, t - length) if t0 <= a and a + length <= t1]
    means = []
    for a in grid + edges:
        inside = [v for t, v in samples if a - 1e-12 <= t <= a + length + 1e-12]
        if inside:
            means.append(sum(inside) / len(inside))
    return max(means)


def test_the_stretches_the_old_two_pointer_version_missed() -> None:
    assert table.busiest_mean([(0, 0), (1, 100), (1.9, 0)], 1) == 100
    assert table.busiest_mean([(0, 0), (1, 0), (2, 0), (2.5, 100), (3.4, 100)], 1) == 100
    assert table.busiest_mean([(0, 10), (0.5, 30)], 5) == 20  # span shorter than the stretch: all
    assert table.busiest_mean([], 1) is None


def test_matches_brute_force_on_random_timelines() -> None:
    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(1, 12)
        samples = sorted((round(rng.uniform(0, 5), 2), float(rng.choice([0, 30, 100]))) for _ in range(n))
        length = rng.choice([0.3, 1.0, 2.5])
        assert table.busiest_mean(samples, length) == pytest.approx(_brute(samples, length))
