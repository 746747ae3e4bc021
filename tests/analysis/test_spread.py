"""Settings run once borrow their workload's run-to-run spread from its repeated settings."""

from __future__ import annotations

import math

import pytest

from hyperwatt.analysis import analyse
from hyperwatt.analysis.quantities import GPU_ENERGY
from hyperwatt.analysis.report import _cell
from hyperwatt.analysis.spread import run_spread

from .factories import record


def _runs():
    repeated_a = [record(hp={"learning_rate": 0.01}, gpu_j=v) for v in (90.0, 110.0)]  # CV 0.1414
    repeated_b = [record(hp={"learning_rate": 0.02}, gpu_j=v) for v in (200.0, 200.0, 200.0)]  # CV 0
    once = [record(hp={"learning_rate": 0.03}, gpu_j=150.0)]
    return repeated_a + repeated_b + once


def test_the_spread_is_pooled_over_the_repeated_settings_by_degrees_of_freedom():
    (g,) = analyse(_runs()).groups
    spread = run_spread(g.settings, GPU_ENERGY)
    assert spread is not None and spread.df == 3 and spread.settings == 2 and spread.runs == 5
    cv_a = math.sqrt(200.0) / 100.0
    assert spread.cv == pytest.approx(math.sqrt((1 * cv_a**2 + 2 * 0.0) / 3))
    assert g.spreads[GPU_ENERGY.key] == spread
    lo, hi = spread.interval(150.0)
    assert (lo + hi) / 2 == pytest.approx(150.0) and hi - 150.0 == pytest.approx(3.182446 * spread.cv * 150.0, rel=1e-5)


def test_a_single_run_s_interval_is_the_borrowed_spread_labelled_as_such():
    (g,) = analyse(_runs()).groups
    once = next(s for s in g.settings if s.n_runs == 1)
    cell = _cell(once.get(GPU_ENERGY), GPU_ENERGY, g.spreads[GPU_ENERGY.key])
    assert cell["ci"].startswith("n = 1: 95% interval [") and "run-to-run spread: CV 8.2 %" in cell["ci"]
    assert "2 repeated setting(s), 5 runs" in cell["ci"]
    assert _cell(once.get(GPU_ENERGY), GPU_ENERGY, None)["ci"] == "n = 1: no spread"


def test_no_repeats_no_spread():
    (g,) = analyse([record(hp={"learning_rate": 0.01 * k}, gpu_j=100.0 + k) for k in range(1, 4)]).groups
    assert run_spread(g.settings, GPU_ENERGY) is None and g.spreads == {}
