"""Coverage and stop latency from scripted timelines; flags and the re-check; the report's counts."""

from __future__ import annotations

import pytest

from hyperwatt.config import ParallelPolicy
from hyperwatt.records import (
    Attempt, BackgroundRecord, BackgroundRunRecord, Cooldown, Energy, ExperimentRecord, Readiness, StopRecord,
)
from hyperwatt.store import SessionRow, SlotRow
from hyperwatt.verify import check, coverage, effective_intervals, recheck, render

POLICY = ParallelPolicy()


def test_coverage_excludes_startup_gaps_and_ineffective_runs():
    # window 10..20; run 1 from 0 (start-up 3 s) to 14; restart gap; run 2 from 15 (live at the end)
    runs = [(0.0, 14.0, True), (15.0, None, True), (14.2, 14.5, False)]
    intervals = effective_intervals(runs, window_end=20.0, startup_s=3.0)
    assert intervals == [(3.0, 14.0), (18.0, 20.0)]
    assert coverage((10.0, 20.0), intervals) == pytest.approx(0.6)
    assert coverage((10.0, 20.0), [(0.0, 30.0)]) == 1.0
    assert coverage((10.0, 20.0), [(12.0, 15.0), (14.0, 16.0)]) == pytest.approx(0.4)  # overlaps merge
    assert coverage((10.0, 10.0), [(0.0, 30.0)]) == 0.0


def _parallel(util: float | None = 90.0, coverage_: float = 1.0, latency_s: float = 0.06,
              status: str = "succeeded") -> ExperimentRecord:
    return ExperimentRecord(
        experiment_id="e1", session_id="s", slot=0, label="fixed", workload="a/b", mode="parallel", status=status,
        key="k", key_hash="h", started_wall=100.0, ended_wall=130.0, duration_s=20.0,
        attempts=[Attempt(number=1, argv=["x"], cwd="/", log="l", started_wall=105.0, duration_s=20.0, exit_code=0,
                          succeeded=True)],
        energy=Energy(available=True, gpu_energy_j=5000.0, window_start_wall=105.0, window_end_wall=125.0),
        background=BackgroundRecord(
            workload="c/d", hyperparameters={}, argv=["y"], effective=True, coverage=coverage_,
            mean_gpu_util_pct=util, readiness=Readiness(ready=True, waited_s=8.0, reason="ok"),
            stop=StopRecord(latency_s=latency_s, escalated=True),
            runs=[BackgroundRunRecord(index=1, started_wall=97.0, ended_wall=125.06, duration_s=28.06, exit_code=-9,
                                      log="background/run-1.log", stopped_by_us=True, effective=True)],
        ),
    )


@pytest.mark.parametrize("record, codes", [
    (_parallel(), []),
    (_parallel(util=12.0), ["background_low_load"]),
    (_parallel(coverage_=0.9), ["low_coverage"]),
    (_parallel(latency_s=0.3), ["slow_stop"]),
    (_parallel(latency_s=2.0), ["slow_stop"]),
])
def test_flags(record, codes):
    assert [f.code for f in check(record, POLICY)] == codes


def test_recheck_moves_between_succeeded_and_invalid_only_when_the_foreground_succeeded():
    low = _parallel(util=12.0)
    assert recheck(low, POLICY) and low.status == "invalid" and "did not really load" in low.status_reason
    low.background.mean_gpu_util_pct = 80.0
    assert recheck(low, POLICY) and low.status == "succeeded" and low.flags == []
    assert not recheck(low, POLICY)
    never_ran = _parallel(status="invalid")
    never_ran.attempts = []
    recheck(never_ran, POLICY)
    assert never_ran.status == "invalid"


def test_cooldown_not_reached_is_a_warning():
    rec = _parallel()
    rec.cooldown = Cooldown(duration_s=120.0, reached=False, reason="gpu0 still 9 °C above idle")
    flags = check(rec, POLICY)
    assert [(f.code, f.severity) for f in flags] == [("cooldown_not_reached", "warning")]


def test_report_counts_a_rerun_once_and_names_what_it_superseded():
    interrupted = _parallel(status="interrupted")
    interrupted.experiment_id, interrupted.started_wall = "old", 50.0
    rerun = _parallel(util=12.0)
    recheck(rerun, POLICY)
    session = SessionRow(session_id="s", name="p", plan_path="/p", plan_hash="h", results_dir="/r", started_wall=1.0,
                         status="completed", planned=1, host="h", pid=1, version="0")
    from hyperwatt.config import Plan
    plan = Plan(name="p", experiments=[{"workload": "a/b"}])
    text = render(session, [SlotRow(0, "h", "a/b", "fixed")], [interrupted, rerun], plan)
    assert "1 recorded" in text and "superseded by a rerun: `old`" in text
    assert "| foreground trainings succeeded | 1/1 |" in text
    assert "| backgrounds effective (really loaded the GPU) | 0/1 |" in text
    assert "background_low_load" in text


def test_a_marginal_below_zero_beyond_its_bound_is_a_warning_with_the_figures():
    from hyperwatt.records import Attribution

    def attributed(value: float, bound: float | None) -> ExperimentRecord:
        rec = _parallel()
        rec.energy.attribution = Attribution(
            device_energy_j=5000.0, device_uncertainty_j=5.0, background_alone_power_w=437.0,
            background_alone_uncertainty_w=0.3, background_alone_spread_w=2.0,
            background_alone_source="alone window of 10.0 s after the readiness gate",
            foreground_marginal_energy_j=value, foreground_marginal_uncertainty_j=bound,
            foreground_util_share=None, foreground_util_share_energy_j=None)
        return rec

    low = attributed(-776.0, 110.0)
    recheck(low, POLICY)
    (flag,) = [f for f in low.flags if f.code == "marginal_out_of_range"]
    assert flag.severity == "warning" and "-776.0 ± 110.0 J is below 0" in flag.message and "437.0 W" in flag.message
    assert low.status == "succeeded"  # the device total stands
    for value, bound in ((-50.0, 110.0), (900.0, 110.0), (-776.0, None)):  # straddles 0; above; no bound stated
        assert not [f for f in check(attributed(value, bound), POLICY) if f.code == "marginal_out_of_range"]
    assert [f.code for f in check(attributed(5200.0, 10.0), POLICY)] == ["marginal_out_of_range"]  # above the device


def test_verify_restates_a_marginal_bound_written_without_todays_interference_allowance():
    from hyperwatt.config import ParallelPolicy
    from hyperwatt.records import Attribution, SensorEnergy

    rec = _parallel()
    rec.energy.sensors = [SensorEnergy(sensor="gpu0", domain="gpu", method="nvml-energy-counter", energy_j=5072.8,
                                       uncertainty_j=4.9, duration_s=14.3)]
    old_bound = 4.9 + 14.3 * (0.6 + 2.8)
    rec.energy.attribution = Attribution(
        device_energy_j=5072.8, device_uncertainty_j=4.9, background_alone_power_w=362.6,
        background_alone_uncertainty_w=0.6, background_alone_spread_w=2.8,
        background_alone_source="alone window of 10.0 s after the readiness gate",
        foreground_marginal_energy_j=5072.8 - 362.6 * 14.3, foreground_marginal_uncertainty_j=old_bound,
        foreground_marginal_verdict="outside physical limits",
        foreground_util_share=None, foreground_util_share_energy_j=None)
    policy = ParallelPolicy(interference_pct=5.0)
    assert recheck(rec, policy)  # restated: a record of before the allowance existed
    a = rec.energy.attribution
    assert a.background_interference_pct == 5.0
    assert a.foreground_marginal_uncertainty_j == pytest.approx(old_bound + 14.3 * 0.05 * 362.6)
    assert a.foreground_marginal_verdict == "not distinguishable from 0"
    assert not [f for f in rec.flags if f.code == "marginal_out_of_range"]
    assert not recheck(rec, policy)  # verified again: nothing changes
    assert recheck(rec, ParallelPolicy(interference_pct=0.0))  # the plan's own allowance is what counts
    assert [f.code for f in rec.flags if f.code == "marginal_out_of_range"] == ["marginal_out_of_range"]


def test_a_metric_name_with_a_newline_or_a_pipe_keeps_the_verification_row_whole():
    """Metric names are whatever the training wrote: `acc\\n2` split the markdown row in two and
    `a|b` added a column."""
    rec = _parallel(util=12.0)
    rec.metrics = {"acc\n2": 2.0, "a|b": 1.0}
    session = SessionRow(session_id="s", name="p", plan_path="/p", plan_hash="h", results_dir="/r", started_wall=1.0,
                         status="completed", planned=1, host="h", pid=1, version="0")
    from hyperwatt.config import Plan
    text = render(session, [SlotRow(0, "h", "a/b", "fixed")], [rec], Plan(name="p", experiments=[{"workload": "a/b"}]))
    (row,) = [line for line in text.splitlines() if f"`{rec.experiment_id}`" in line and "a\\|b=1" in line]
    assert "acc 2=2" in row
    assert row.replace("\\|", "").count("|") == 11, row  # ten cells


def test_low_coverage_from_a_background_that_keeps_finishing_says_so_not_crashed():
    """A tiny background (5 s runs, exit 0) restarted under an 8 s start-up allowance: coverage 0 %
    and the fix blamed a crash. It names the restarts, their lengths and what to change."""
    rec = _parallel(coverage_=0.0)
    bg = rec.background
    bg.runs = [BackgroundRunRecord(index=i, started_wall=97.0 + 6 * i, ended_wall=102.0 + 6 * i, duration_s=5.0 + i / 10,
                                   exit_code=0, log=f"background/run-{i}.log", stopped_by_us=False, effective=False)
               for i in (1, 2)]
    (flag,) = [f for f in check(rec, POLICY) if f.code == "low_coverage"]
    assert "crashed" not in flag.fix and "finished and restarted 2 time(s)" in flag.fix, flag.fix
    assert "5.1–5.2 s" in flag.fix and "first 8.0 s of each run" in flag.fix and "more epochs" in flag.fix
    crashed = _parallel(coverage_=0.5)
    (flag,) = [f for f in check(crashed, POLICY) if f.code == "low_coverage"]
    assert "crashed or restarted" in flag.fix
