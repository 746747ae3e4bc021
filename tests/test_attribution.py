"""The attribution rules: the background-alone power's spread, the marginal energy's bound and
where its interval lies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperwatt import attribution as rules


def _samples(fn, t_end: float, hz: float = 20.0) -> list[tuple[float, float]]:
    n = int(t_end * hz) + 1
    return [(i / hz, fn(i / hz)) for i in range(n)]


def test_spread_of_a_steady_background_is_zero_and_of_a_stepping_one_is_half_the_step():
    assert rules.power_spread_w(_samples(lambda t: 400.0, 10.0), 2.0) == 0.0
    step = _samples(lambda t: 400.0 if t < 5.0 else 380.0, 10.0)
    assert rules.power_spread_w(step, 5.0) == pytest.approx(10.0, abs=0.5)  # halves at 400 and 380, mean 390
    assert rules.power_spread_w(step, 20.0) is None  # no stretch that long fits
    assert rules.power_spread_w(step[:1], 1.0) is None


@given(st.lists(st.floats(50.0, 700.0), min_size=4, max_size=80), st.floats(0.1, 2.0))
def test_spread_never_exceeds_the_largest_distance_from_the_mean(powers, length):
    samples = [(i * 0.05, p) for i, p in enumerate(powers)]
    spread = rules.power_spread_w(samples, length)
    mean = sum(powers) / len(powers)
    if spread is not None:
        assert 0.0 <= spread <= max(abs(p - mean) for p in powers) + 1e-9


def test_marginal_bound_adds_the_counter_the_alone_power_and_its_spread():
    value, unc = rules.marginal(device_j=5000.0, device_unc_j=5.0, duration_s=10.0, alone_w=400.0, alone_unc_w=0.5,
                                spread_w=2.0)
    assert value == pytest.approx(1000.0) and unc == pytest.approx(5.0 + 10.0 * 2.5)
    assert rules.marginal(5000.0, 5.0, 10.0, 400.0, 0.5, None) == (pytest.approx(1000.0), None)


def test_the_interference_allowance_widens_the_bound_by_its_share_of_the_alone_power():
    """The H200's mnist_ff || resnet20 (feasibility run): the device drew 354.7 W against 362.6 W
    alone; a light foreground displaced the background's work. 5 % of 362.6 W covers it."""
    duration, device, alone_w = 14.3, 5072.8, 362.6
    value, narrow = rules.marginal(device, 4.9, duration, alone_w, 0.6, 2.8)
    assert rules.marginal_verdict(value, narrow, device, 4.9) == "outside physical limits"
    value2, wide = rules.marginal(device, 4.9, duration, alone_w, 0.6, 2.8, interference_pct=5.0)
    assert value2 == value and wide == pytest.approx(narrow + duration * 0.05 * alone_w)
    assert rules.marginal_verdict(value, wide, device, 4.9) == "not distinguishable from 0"


@pytest.mark.parametrize("value, unc, verdict", [
    (1000.0, 30.0, "above 0"),
    (20.0, 30.0, "not distinguishable from 0"),
    (-20.0, 30.0, "not distinguishable from 0"),
    (-776.0, 110.0, "outside physical limits"),  # the issue's VulBERTa/mlp || VulBERTa/cnn
    (6000.0, 30.0, "outside physical limits"),  # above the device's own energy
    (-776.0, None, None),  # no stated uncertainty: no verdict, never ranked
])
def test_marginal_verdict(value, unc, verdict):
    assert rules.marginal_verdict(value, unc, device_j=5000.0, device_unc_j=5.0) == verdict


def test_the_issues_drift_the_gate_power_made_negative_is_bounded_by_a_measured_alone_window():
    """hrnet18: 437 W at the gate, 394 W over the window; the foreground added 1.5 W × 12.9 s."""
    duration, truth = 12.9, 1.5 * 12.9
    device = 394.0 * duration + truth
    old = device - 437.0 * duration
    assert old < -500  # what the gate samples gave: a "negative saving"
    # the background alone for 10 s after the gate, drifting down from 437 W to 394 W
    alone = _samples(lambda t: 437.0 - 4.3 * t, 10.0)
    alone_w = sum(p for _, p in alone) / len(alone)
    spread = rules.power_spread_w(alone, min(duration, 10.0 / 2))
    value, unc = rules.marginal(device, 5.0, duration, alone_w, 0.1, spread)
    assert unc is not None and value - unc <= truth <= value + unc or \
        rules.marginal_verdict(value, unc, device, 5.0) == "outside physical limits"
    assert rules.marginal_verdict(value, unc, device, 5.0) != "above 0"
