"""Window energy against scripted power curves whose exact energy is known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sensors_helpers import simulate

from hyperwatt.sensors import Sample, SensorInfo, detect_update_period, window_energy
from hyperwatt.sensors.fake import FakeError, PiecewiseLinear, burst, constant, square_wave
from hyperwatt.sensors.window import COUNTER_RESET, _Anchor, _PowerCurve, _refine_with_grid


def test_constant_power_is_exact_to_the_millijoule_scale():
    run = simulate(constant(300.0), 104.0, 110.0)
    est = run.estimate
    assert run.truth_j == pytest.approx(1800.0)
    assert est.method == "nvml-energy-counter"
    assert abs(run.error_j) <= est.uncertainty_j
    assert abs(run.error_j) < 0.5  # far below 0.1 %
    assert est.mean_power_w == pytest.approx(300.0, rel=1e-3)
    assert est.peak_power_w == pytest.approx(300.0, rel=1e-3)


def test_ramp_inside_the_window():
    ramp = PiecewiseLinear([(105.0, 60.0), (108.0, 660.0), (110.0, 660.0), (110.5, 60.0)])
    run = simulate(ramp, 104.5, 111.0)
    assert run.truth_j == pytest.approx(60 * 0.5 + 3 * 360 + 2 * 660 + 0.5 * 360 + 0.5 * 60)
    assert abs(run.error_j) <= run.estimate.uncertainty_j
    assert abs(run.error_j) / run.truth_j < 0.005


@pytest.mark.parametrize("duration_s", [2.0, 5.0, 30.0])
def test_bursts_meet_the_accuracy_targets(duration_s: float):
    curve = burst(70.0, 650.0, 105.0, duration_s, ramp_s=0.02)
    run = simulate(curve, 104.997, 105.0 + duration_s + 0.03)
    assert abs(run.error_j) <= run.estimate.uncertainty_j
    assert abs(run.error_j) / run.truth_j < 0.001
    assert run.estimate.update_period_s == pytest.approx(0.1, rel=0.01)


def test_burst_shorter_than_the_update_period():
    curve = burst(70.0, 650.0, 105.0, 0.04)  # 40 ms of load between two 100 ms counter steps
    run = simulate(curve, 104.99, 105.06)
    assert run.truth_j == pytest.approx(70 * 0.03 + 650 * 0.04)
    assert abs(run.error_j) <= run.estimate.uncertainty_j
    assert abs(run.error_j) < 0.1 * run.truth_j


def test_on_off_pattern():
    curve = square_wave(70.0, 650.0, 105.0, 10.0, on_s=0.25, off_s=0.25)
    run = simulate(curve, 104.995, 115.005)
    assert abs(run.error_j) <= run.estimate.uncertainty_j
    assert abs(run.error_j) / run.truth_j < 0.001


@pytest.mark.parametrize("phase_s", [0.0, 0.013, 0.05, 0.087, 0.0999])
def test_window_edges_anywhere_between_counter_steps(phase_s: float):
    curve = burst(80.0, 500.0, 105.2, 3.0)
    run = simulate(curve, 105.1, 108.3, phase_s=phase_s)
    assert abs(run.error_j) <= run.estimate.uncertainty_j
    assert abs(run.error_j) < 1.0


@pytest.mark.parametrize("phase_s", [0.0, 0.021, 0.048, 0.066, 0.093])
def test_sparse_locks_edges_anchored_on_the_grid(phase_s: float):
    """The engine re-locks every 10 s: near a short window the only precise steps are the ones
    sought after its edges; the steps before the edges are placed on their grid, and the level
    after the end is read clear of the power readings' lag (steps jitter by 3 ms, as on an H200)."""
    for start in (104.3, 104.337, 104.371):
        curve = burst(120.0, 700.0, start + 0.002, 2.0, ramp_s=0.02)
        run = simulate(curve, start, start + 2.03, phase_s=phase_s, lock_interval_s=10.0, update_jitter_s=0.003)
        assert abs(run.error_j) <= run.estimate.uncertainty_j
        assert run.estimate.uncertainty_j / run.truth_j < 0.003
        assert abs(run.error_j) / run.truth_j < 0.001


def test_grid_places_each_wide_anchor_on_its_own_step():
    """Two wide anchors before a precise one: each new counter value is a distinct step, so the one
    two anchors back is two steps back, even where its bracket also touches the step one back."""
    ref_far = _Anchor(-0.8897, -0.8811, 10.0)  # 10 steps before `ref`: the pair measures the grid
    wide_2, wide_1 = _Anchor(-0.101, 0.011, 20.0), _Anchor(0.009, 0.106, 21.0)
    ref = _Anchor(0.1106, 0.1187, 22.0)
    out = _refine_with_grid([ref_far, wide_2, wide_1, ref], 0.1, period_measured=True)
    assert out[2].lo <= 0.0146 <= out[2].hi and out[2].half < 0.006
    assert out[1].lo <= -0.0854 <= out[1].hi and out[1].half < 0.006
    assert out[0] == ref_far and out[3] == ref


def _end_edge_anchors() -> list[_Anchor]:
    """An H200 end edge (2026-12-03): the read at the edge (+4.6 ms) is the first of its value, the
    next read came 106 ms later; the step sought after the edge is the only reference."""
    return [_Anchor(-0.106, 0.0062, 32323.367), _Anchor(0.092, 0.1325, 32341.013), _Anchor(0.2020, 0.2089, 32353.349)]


def test_two_grid_steps_in_a_bracket_are_told_apart_by_the_power_readings():
    # the edge's bracket holds grid steps at +5.5 ms and -94.5 ms: 17.6 J to the next step in one
    # period is 176 W, in two periods 88 W; the GPU read 128-807 W there, so 88 W is impossible
    readings = [(-0.354, 128.9), (-0.204, 128.5), (-0.154, 807.2), (-0.054, 730.3), (0.046, 200.4),
                (0.146, 128.6), (0.246, 128.3), (0.446, 129.0)]
    curve = _PowerCurve(np.array([t for t, _ in readings]), np.array([p for _, p in readings]))
    out = _refine_with_grid(_end_edge_anchors(), 0.1, period_measured=True, curve=curve)
    assert out[1].lo <= 0.1055 <= out[1].hi and out[1].half < 0.01
    assert out[0].lo <= 0.0055 <= out[0].hi and out[0].half < 0.01
    # readings with a refresh unread between the steps cannot rule a placement out
    sparse = _PowerCurve(np.array([-0.354, -0.204, 0.446]), np.array([128.9, 128.5, 129.0]))
    assert _refine_with_grid(_end_edge_anchors(), 0.1, period_measured=True, curve=sparse)[0].half > 0.05
    # readings that allow neither placement (a steady 700 W) leave the anchor as wide as it was
    steady = _PowerCurve(np.array([-0.5, 0.5]), np.array([700.0, 700.0]))
    assert _refine_with_grid(_end_edge_anchors(), 0.1, period_measured=True, curve=steady)[0].half > 0.05


def test_instant_power_samples_instead_of_interval_means():
    curve = burst(70.0, 650.0, 105.0, 5.0, ramp_s=0.02)
    for field in ("sample", "exact"):
        run = simulate(curve, 104.99, 110.03, power_field=field)
        assert abs(run.error_j) <= run.estimate.uncertainty_j, field


def test_jittered_counter_updates():
    curve = burst(70.0, 650.0, 105.0, 5.0, ramp_s=0.02)
    run = simulate(curve, 104.99, 110.03, update_jitter_s=0.004)
    assert abs(run.error_j) <= run.estimate.uncertainty_j
    assert abs(run.error_j) / run.truth_j < 0.001


def test_without_edge_requests_the_bound_grows_but_still_holds():
    curve = burst(70.0, 650.0, 105.0, 5.0, ramp_s=0.02)
    run = simulate(curve, 104.99, 110.03, edges=False)
    assert abs(run.error_j) <= run.estimate.uncertainty_j
    assert abs(run.error_j) / run.truth_j < 0.005


@settings(max_examples=25, deadline=None)
@given(start=st.floats(0.0, 0.3), duration=st.floats(0.05, 3.0), busy=st.floats(100.0, 700.0),
       phase=st.floats(0.0, 0.0999), lead=st.floats(0.001, 0.3), tail=st.floats(0.001, 0.3))
def test_error_within_the_stated_bound_when_the_window_holds_the_load(start, duration, busy, phase, lead, tail):
    t_on = 105.0 + start
    curve = burst(60.0, busy, t_on, duration)
    run = simulate(curve, t_on - lead, t_on + duration + tail, phase_s=phase, after_s=1.0)
    assert abs(run.error_j) <= run.estimate.uncertainty_j + 1e-9


def test_missing_counter_integrates_power_and_says_so():
    curve = burst(70.0, 650.0, 105.0, 5.0, ramp_s=0.05)
    run = simulate(curve, 104.5, 110.5, counter=False, power_field="exact")
    est = run.estimate
    assert est.method == "nvml-power-trapezoid"
    assert abs(run.error_j) <= est.uncertainty_j
    assert abs(run.error_j) / run.truth_j < 0.01


def test_gap_in_the_readings_is_counted_and_bridged():
    curve = constant(200.0)
    run = simulate(curve, 104.0, 110.0, errors=[FakeError(106.0, 106.8, "Timeout")])
    est = run.estimate
    assert est.gap_count >= 1
    assert est.max_gap_s == pytest.approx(0.8, abs=0.06)
    assert not est.partial  # the counter kept counting through the gap
    assert abs(run.error_j) <= est.uncertainty_j


def test_gap_with_trapezoid_widens_the_bound():
    curve = PiecewiseLinear([(105.9, 100.0), (106.0, 400.0), (106.9, 400.0), (107.0, 100.0)])
    with_gap = simulate(curve, 104.0, 110.0, counter=False, errors=[FakeError(105.8, 107.2)]).estimate
    without = simulate(curve, 104.0, 110.0, counter=False).estimate
    assert with_gap.gap_count == 1 and without.gap_count == 0
    assert with_gap.uncertainty_j > without.uncertainty_j


def test_nvml_error_until_the_end_gives_a_partial_estimate():
    run = simulate(constant(250.0), 104.0, 110.0, errors=[FakeError(107.0, 1e9, "GPU is lost")])
    est = run.estimate
    assert est.partial
    assert est.energy_j is not None and est.energy_j == pytest.approx(250.0 * 3.0, rel=0.02)
    assert "to the window end" in est.reason and "GPU is lost" in est.reason


def test_nothing_readable_is_none_with_a_reason_never_zero():
    run = simulate(constant(250.0), 104.0, 110.0, errors=[FakeError(0.0, 1e9, "GPU is lost")])
    est = run.estimate
    assert est.energy_j is None and est.uncertainty_j is None
    assert "GPU is lost" in est.reason
    assert est.sample_count == 0


def test_achieved_rate_and_detected_period_are_recorded():
    est = simulate(constant(100.0), 104.0, 108.0, rate_hz=10.0).estimate
    assert est.achieved_rate_hz == pytest.approx(10.0, rel=0.3)  # power rounds plus counter reads
    assert est.sample_count >= 40
    assert est.update_period_s == pytest.approx(0.1, rel=0.01)
    assert est.duration_s == pytest.approx(4.0)


def _samples(values: list[tuple[float, float | None, float | None]], error_at: float | None = None) -> list[Sample]:
    out = []
    for t, power, energy in values:
        if error_at is not None and t == error_at:
            out.append(Sample("x", t, t, error=f"{COUNTER_RESET}: went back"))
        else:
            out.append(Sample("x", t, t, power_w=power, energy_j=energy))
    return out


RAPL_INFO = SensorInfo("x", "cpu", "rapl", "package-0", update_period_s=0.001, resolution_j=1e-6)


def test_counter_that_updates_at_every_read():
    samples = _samples([(i * 0.05, 40.0, 2.0 * i) for i in range(200)])  # 40 W, read at 20 Hz
    est = window_energy(samples, RAPL_INFO, 2.013, 7.013)
    assert est.energy_j == pytest.approx(200.0, abs=0.01)
    assert est.uncertainty_j < 1.0


def test_counter_reset_is_partial_with_a_reason():
    samples = _samples([(i * 0.05, 40.0, 2.0 * i) for i in range(200)], error_at=4.0)
    est = window_energy(samples, RAPL_INFO, 2.0, 7.0)
    assert est.partial
    assert COUNTER_RESET in est.reason


def test_estimate_relative_uncertainty_is_added():
    info = SensorInfo("x", "cpu", "cpu-time-estimate", "2 CPUs", None, None, relative_uncertainty=0.5)
    samples = _samples([(i * 0.5, 10.0, 5.0 * i) for i in range(40)])
    est = window_energy(samples, info, 5.0, 15.0)
    assert est.method == "cpu-time-estimate"
    assert est.energy_j == pytest.approx(100.0, rel=0.01)
    assert est.uncertainty_j >= 50.0


def test_detect_update_period_needs_dense_reads():
    dense = [Sample("x", i * 0.02, 0.0, energy_j=float(int(i * 0.02 / 0.1 + 1e-9))) for i in range(500)]
    assert detect_update_period(dense) == pytest.approx(0.1, rel=0.05)
    sparse = [Sample("x", i * 0.5, 0.0, energy_j=float(i)) for i in range(50)]
    assert detect_update_period(sparse) is None


def _background_outliving_the_window(t1: float) -> PiecewiseLinear:
    """A background alone (400 W), then the foreground on top (650 W) over [105, t1]; the
    background is stopped at the foreground's exit and is gone 60-80 ms later (70 W idle)."""
    return PiecewiseLinear([(104.0, 70.0), (104.5, 70.0), (104.51, 400.0), (105.0, 400.0), (105.01, 650.0),
                            (t1, 650.0), (t1 + 0.01, 400.0), (t1 + 0.06, 400.0), (t1 + 0.08, 70.0)])


@pytest.mark.parametrize("phase_s", [0.0, 0.013, 0.05, 0.087, 0.0999])
def test_a_load_that_outlives_the_window_needs_the_end_level_read_inside(phase_s: float):
    errors = {"after": [], "inside": []}
    for t1 in (108.0, 108.031, 108.077):
        for end_level in errors:
            run = simulate(_background_outliving_the_window(t1), 105.0, t1, end_level=end_level, phase_s=phase_s)
            errors[end_level].append(abs(run.error_j))
            if end_level == "inside":
                assert abs(run.error_j) <= run.estimate.uncertainty_j
                assert abs(run.error_j) / run.truth_j < 0.001
    # read after the window, the level is the idle after the stop, not the load until it
    assert max(errors["after"]) > 5 * max(errors["inside"])
