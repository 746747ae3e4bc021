import math

import pytest

from hyperwatt.analysis import GroupKey, setting_stats, summarize
from hyperwatt.analysis.quantities import DURATION, GPU_ENERGY, metric_quantity

from .factories import record

T_975_DF2 = 4.302653  # Student's t, 97.5th percentile, from tables
T_975_DF3 = 3.182446


def test_summary_matches_hand_computation() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s is not None and s.n == 4
    assert s.mean == 2.5
    std = math.sqrt(((1.5 ** 2) * 2 + (0.5 ** 2) * 2) / 3)
    assert s.std == pytest.approx(std)
    assert s.sem == pytest.approx(std / 2)
    assert s.ci95_low == pytest.approx(2.5 - T_975_DF3 * std / 2, rel=1e-6)
    assert s.ci95_high == pytest.approx(2.5 + T_975_DF3 * std / 2, rel=1e-6)
    assert s.bound is None


def test_one_run_has_no_spread_and_no_interval() -> None:
    s = summarize([5.0], [0.5])
    assert s is not None
    assert (s.mean, s.std, s.sem, s.ci95_low, s.ci95_high) == (5.0, None, None, None, None)
    assert s.bound == 0.5
    assert s.standard_uncertainty == pytest.approx(0.5 / math.sqrt(3))


def test_measurement_bound_of_a_mean_is_the_mean_of_the_run_bounds() -> None:
    s = summarize([10.0, 12.0, 11.0, 11.0], [1.0, 3.0, 2.0, 2.0])
    assert s is not None
    assert s.bound == pytest.approx(2.0)
    u = math.sqrt(s.sem ** 2 + (2.0 / math.sqrt(3)) ** 2)
    assert s.standard_uncertainty == pytest.approx(u)
    assert s.expanded_uncertainty == pytest.approx(2 * u)


def test_unknown_bound_of_any_run_makes_the_bound_unknown() -> None:
    s = summarize([10.0, 12.0], [1.0, None])
    assert s is not None and s.bound is None
    assert s.standard_uncertainty == pytest.approx(s.sem)


def test_identical_values_have_exactly_zero_spread() -> None:
    s = summarize([0.3, 0.3, 0.3])
    assert s is not None and s.std == 0.0 and s.ci95_low == s.ci95_high == s.mean


def test_no_values_no_summary() -> None:
    assert summarize([]) is None


def test_setting_stats_aggregate_repeats_per_key_hash() -> None:
    hp_ref = {"learning_rate": 0.01}
    hp_mut = {"learning_rate": 0.02}
    runs = [record(hp=hp_ref, gpu_j=v, gpu_unc_j=1.0, metrics={"test_accuracy": a}, duration_s=d)
            for v, a, d in ((100.0, 0.90, 10.0), (102.0, 0.91, 11.0), (104.0, 0.92, 12.0))]
    runs += [record(hp=hp_mut, mutated=("learning_rate",), gpu_j=90.0, gpu_unc_j=2.0,
                    metrics={"test_accuracy": 0.95})]
    acc = metric_quantity("test_accuracy")
    out = setting_stats(GroupKey("examples/mnist", "sequential"), runs, [GPU_ENERGY, DURATION, acc],
                        reference=runs[0].key_hash)
    assert [s.n_runs for s in out] == [3, 1]
    ref, mut = out
    assert ref.is_reference and ref.name == "default" and not mut.is_reference
    assert mut.name == "learning_rate=0.02"
    e = ref.get(GPU_ENERGY)
    assert e is not None and e.mean == pytest.approx(102.0) and e.std == pytest.approx(2.0)
    assert e.ci95_high - e.mean == pytest.approx(T_975_DF2 * 2.0 / math.sqrt(3), rel=1e-6)
    assert e.bound == pytest.approx(1.0)
    assert ref.get(DURATION).mean == pytest.approx(11.0)
    assert ref.get(acc).mean == pytest.approx(0.91)
    assert mut.get(GPU_ENERGY).bound == 2.0


def test_partial_energy_is_left_out_of_energy_but_not_of_metrics() -> None:
    runs = [record(gpu_j=100.0, metrics={"test_accuracy": 0.9}),
            record(gpu_j=40.0, partial=True, metrics={"test_accuracy": 0.8})]
    acc = metric_quantity("test_accuracy")
    (s,) = setting_stats(GroupKey("examples/mnist", "sequential"), runs, [GPU_ENERGY, acc], None)
    assert s.get(GPU_ENERGY).n == 1 and s.get(GPU_ENERGY).mean == 100.0
    assert s.get(acc).n == 2
    assert s.energy_excluded == 1


def test_an_interval_of_a_physically_nonnegative_quantity_is_shown_clipped_at_zero() -> None:
    from hyperwatt.analysis.quantities import GPU_ENERGY, MARGINAL_ENERGY
    from hyperwatt.analysis.report import _cell

    s = summarize([10.0, 200.0])  # two repeats far apart: the t-interval reaches far below 0
    assert s is not None and s.ci95_low is not None and s.ci95_low < 0
    assert _cell(s, GPU_ENERGY)["ci"].startswith("95% CI [0 J,")
    assert _cell(s, MARGINAL_ENERGY)["ci"].startswith("95% CI [−")  # a marginal energy may be negative


def test_error_bars_of_a_nonnegative_quantity_stop_at_zero() -> None:
    from hyperwatt.analysis.plots import _bars
    from hyperwatt.analysis.quantities import MARGINAL_ENERGY

    wide, narrow = summarize([10.0, 200.0]), summarize([100.0, 101.0])
    assert wide is not None and narrow is not None
    lower, upper = _bars([wide, narrow], GPU_ENERGY, True)
    assert lower[0] == pytest.approx(wide.mean) and upper[0] > wide.mean  # down to 0, not below
    assert lower[1] == upper[1] < narrow.mean  # a narrow bar is symmetric
    assert _bars([wide], MARGINAL_ENERGY, True)[0][0] > wide.mean  # a marginal energy may go below 0
