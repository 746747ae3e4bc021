"""The utilisation share comes from NVML's per-process samples collected while the window runs."""

from __future__ import annotations

from hyperwatt.engine.window import Window
from hyperwatt.sensors.records import ProcessUtil


def test_samples_are_deduplicated_kept_inside_the_window_and_summed_per_side() -> None:
    w = Window(t0_wall=100.0, fg_pids={10, 11}, bg_pids={20})
    poll_1 = [ProcessUtil(99.5, 20, 90.0), ProcessUtil(100.2, 20, 60.0), ProcessUtil(100.2, 10, 30.0)]
    poll_2 = poll_1[1:] + [ProcessUtil(100.4, 11, 10.0), ProcessUtil(100.4, 20, 50.0), ProcessUtil(100.4, 7, 99.0)]
    w.add_process_samples(poll_1)
    w.add_process_samples(poll_2)  # the driver returns overlapping samples: counted once
    w.t1_wall = 100.5
    w.add_process_samples([ProcessUtil(100.6, 10, 80.0)])  # after the window: ignored
    fg, bg, both = w.util_sums()
    assert (fg, bg, both) == (40.0, 110.0, True)  # 99.5 is before the window; pid 7 is no one's


def test_a_side_never_sampled_makes_the_share_unknown() -> None:
    w = Window(t0_wall=0.0, fg_pids={10}, bg_pids={20})
    w.add_process_samples([ProcessUtil(1.0, 20, 95.0)])
    assert w.util_sums()[2] is False
