"""Slices of a window at phase cuts: each within its bound of the truth, all adding up to the window."""

from __future__ import annotations

import pytest
from sensors_helpers import simulate

from hyperwatt.sensors import Sample, SensorInfo
from hyperwatt.sensors.fake import FakeError, PiecewiseLinear
from hyperwatt.sensors.slices import WindowSlicer

# start-up at 120 W, training at 600 W, evaluation at 300 W, teardown at 100 W
PHASES = PiecewiseLinear([(104.0, 70.0), (104.0, 120.0), (106.03, 120.0), (106.03, 600.0), (112.51, 600.0),
                          (112.51, 300.0), (113.27, 300.0), (113.27, 100.0), (113.9, 100.0), (113.9, 70.0)])
T0, T1 = 104.0, 113.9
CUTS = [106.03, 112.51, 113.27]


def _slicer(run, t0=T0, t1=T1, end_level="after") -> WindowSlicer:
    return run.monitor.slicers(t0, t1, end_level=end_level)["gpu0"]


def test_counter_slices_are_within_their_bounds_and_add_up_to_the_window():
    run = simulate(PHASES, T0, T1)
    slicer = _slicer(run)
    assert slicer.mode == "counter"
    assert slicer.whole.energy_j == pytest.approx(run.estimate.energy_j, abs=1e-9)
    edges = [T0, *CUTS, T1]
    parts = [slicer.energy(a, b) for a, b in zip(edges, edges[1:])]
    for (a, b), part in zip(zip(edges, edges[1:]), parts):
        truth = run.gpu.true_energy_j(a, b)
        assert part.energy_j is not None and not part.partial
        assert abs(part.energy_j - truth) <= part.uncertainty_j, (a, b)
        assert part.uncertainty_j < 0.15 * truth + 5.0  # a cut between counter anchors ~1 s apart
    assert sum(p.energy_j for p in parts) == pytest.approx(run.estimate.energy_j, abs=1e-6)
    # a run of contiguous slices has one bound, smaller than the sum of theirs
    joined = slicer.energy(CUTS[0], T1)
    assert joined.energy_j == pytest.approx(sum(p.energy_j for p in parts[1:]), abs=1e-6)
    assert joined.uncertainty_j < sum(p.uncertainty_j for p in parts[1:])


def test_cuts_at_the_window_edges_and_empty_slices():
    run = simulate(PHASES, T0, T1)
    slicer = _slicer(run)
    assert slicer.energy(T0, T0).energy_j == pytest.approx(0.0)
    assert slicer.energy(T0, T1).energy_j == pytest.approx(run.estimate.energy_j, abs=1e-9)
    with pytest.raises(ValueError):
        slicer.energy(T0 - 1.0, T1)
    with pytest.raises(ValueError):
        slicer.energy(T1, T0)


def test_end_level_inside_matches_the_window_s_own_end_edge():
    run = simulate(PHASES, T0, T1, end_level="inside")
    slicer = _slicer(run, end_level="inside")
    assert slicer.whole.energy_j == pytest.approx(run.estimate.energy_j, abs=1e-9)
    parts = [slicer.energy(T0, CUTS[0]), slicer.energy(CUTS[0], T1)]
    assert sum(p.energy_j for p in parts) == pytest.approx(run.estimate.energy_j, abs=1e-6)


def _power_only(curve, t0, t1, rate_hz=10.0):
    info = SensorInfo(name="cpu", domain="cpu", method="power-trapezoid", device="x", update_period_s=None,
                      resolution_j=None)
    n = int((t1 - t0 + 4) * rate_hz)
    samples = [Sample("cpu", t0 - 2 + k / rate_hz, 0.0, power_w=curve(t0 - 2 + k / rate_hz)) for k in range(n)]
    return WindowSlicer(samples, info, t0, t1), info


def test_trapezoid_slices_add_up_and_hold_their_bounds():
    slicer, _ = _power_only(PHASES, T0, T1)
    assert slicer.mode == "trapezoid"
    edges = [T0, *CUTS, T1]
    parts = [slicer.energy(a, b) for a, b in zip(edges, edges[1:])]
    assert sum(p.energy_j for p in parts) == pytest.approx(slicer.whole.energy_j, rel=1e-9)
    for (a, b), part in zip(zip(edges, edges[1:]), parts):
        assert abs(part.energy_j - PHASES.energy_j(a, b)) <= part.uncertainty_j


def test_a_partial_window_gives_partial_slices():
    run = simulate(PHASES, T0, T1, errors=[FakeError(110.0, 120.0, "GPU is lost")])
    slicer = _slicer(run)
    assert run.estimate.partial
    assert slicer.mode == "independent"
    part = slicer.energy(T0, CUTS[0])
    assert part.partial and "partial" in part.reason
    assert abs(part.energy_j - run.gpu.true_energy_j(T0, CUTS[0])) <= part.uncertainty_j


def test_no_readings_at_all():
    info = SensorInfo(name="gpu0", domain="gpu", method="nvml-energy-counter", device="x", update_period_s=0.1,
                      resolution_j=0.001)
    slicer = WindowSlicer([], info, T0, T1)
    assert slicer.mode == "none"
    part = slicer.energy(T0, T1)
    assert part.energy_j is None and part.reason


def test_a_cut_in_steady_load_shares_its_counter_interval_by_the_power_readings():
    """Between two epochs the power does not change: the counter interval around the cut is shared
    out in proportion to the readings, so the cut's bound is that of the steps' positions, not the
    readings' 5 % scale error over half a second."""
    from hyperwatt.sensors.window import _edge

    run = simulate(PHASES, T0, T1)
    slicer = _slicer(run)
    for cut in (108.3, 110.77):  # steady 600 W, between sparse anchors
        steady = slicer.energy(106.03, cut)
        assert abs(steady.energy_j - run.gpu.true_energy_j(106.03, cut)) <= steady.uncertainty_j
        level_only = _edge(slicer._anchor_list, slicer._curve, cut, "start", slicer._period, slicer._gap_s,
                           slicer._lag_s, slicer._rel)
        assert slicer._edge(cut).bound_j < level_only.bound_j or level_only.bound_j < 6.0
        assert slicer._edge(cut).bound_j < 8.0
