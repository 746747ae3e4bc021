"""ETA of planned experiments: history first, else the declared duration scaled by `epochs`
(the test plans spend no time on idle baselines or cooldowns)."""

from __future__ import annotations

import math
import random

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine.eta import Estimator, Eta, Past, declared_parts, estimate_s
from hyperwatt.errors import ConfigError
from hyperwatt.mutation import expand

WORKLOAD = '''
[workloads."toy/est"]
argv = ["{python}", "train.py"]
estimated_duration_s = 100
estimated_startup_s = 10
[workloads."toy/est".hyperparameters]
epochs = { flag = "--epochs", type = "int", default = 10 }
[workloads."toy/est".metrics]
required = ["acc"]

[workloads."toy/steps"]
argv = ["{python}", "train.py"]
estimated_duration_s = 50
estimated_scales_with = "max_steps"
[workloads."toy/steps".hyperparameters]
max_steps = { flag = "--max-steps", type = "int", default = 1000 }
[workloads."toy/steps".metrics]
required = ["acc"]

[workloads."toy/flat"]
argv = ["{python}", "train.py"]
estimated_duration_s = 40
[workloads."toy/flat".hyperparameters]
steps = { flag = "--steps", type = "int", default = 10 }
[workloads."toy/flat".metrics]
required = ["acc"]
'''


def _planned(write_plan, experiments: str):  # type: ignore[no-untyped-def]
    return expand(load_plan(write_plan(experiments + WORKLOAD), Registry.builtin())).experiments


def test_the_declared_duration_scales_with_epochs_above_the_startup(write_plan) -> None:  # type: ignore[no-untyped-def]
    default, one, twenty = _planned(write_plan, '''
[[experiments]]
workload = "toy/est"
[[experiments]]
workload = "toy/est"
hyperparameters = { epochs = 1 }
[[experiments]]
workload = "toy/est"
hyperparameters = { epochs = 20 }
''')
    no_history = lambda name: []  # noqa: E731
    assert estimate_s(default, no_history) == pytest.approx(100)
    assert estimate_s(one, no_history) == pytest.approx(10 + 90 * 0.1)
    assert estimate_s(twenty, no_history) == pytest.approx(10 + 90 * 2)
    assert Estimator(no_history).remaining([one, twenty]).central_s == pytest.approx(19 + 190)


def test_history_wins_and_a_declaration_scales_with_its_other_duration_drivers(write_plan) -> None:  # type: ignore[no-untyped-def]
    est, flat = _planned(write_plan, '''
[[experiments]]
workload = "toy/est"
hyperparameters = { epochs = 1 }
[[experiments]]
workload = "toy/flat"
hyperparameters = { steps = 1 }
''')
    past = [Past(d, {"epochs": 1}) for d in (30.0, 50.0, 40.0)]
    assert estimate_s(est, lambda name: past) == pytest.approx(39.15, rel=0.01)  # the geometric mean
    assert estimate_s(flat, lambda name: []) == pytest.approx(4)  # `steps` drives duration: 1 of the default 10


def test_a_parallel_experiment_adds_the_background_start_up(write_plan) -> None:  # type: ignore[no-untyped-def]
    (pe,) = _planned(write_plan, '''
[[experiments]]
workload = "toy/flat"
mode = "parallel"
background = { workload = "toy/est", hyperparameters = { epochs = 100 } }
''')
    assert estimate_s(pe, lambda name: []) == pytest.approx(40 + 10)  # toy/est starts up in 10 s


def test_a_workload_names_the_hyperparameter_its_duration_scales_with(write_plan) -> None:  # type: ignore[no-untyped-def]
    (pe,) = _planned(write_plan, """
[[experiments]]
workload = "toy/steps"
hyperparameters = { max_steps = 250 }
""")
    assert estimate_s(pe, lambda name: []) == pytest.approx(50 * 0.25)


def test_scaling_with_an_undeclared_hyperparameter_is_a_one_line_error(write_plan) -> None:  # type: ignore[no-untyped-def]
    bad = WORKLOAD.replace('estimated_scales_with = "max_steps"', 'estimated_scales_with = "max_step"')
    with pytest.raises(ConfigError) as info:
        load_plan(write_plan('[[experiments]]\nworkload = "toy/steps"\n' + bad), Registry.builtin())
    assert "no hyperparameter named 'max_step'" in str(info.value) and "\n" not in str(info.value)


SCALED = '''
[workloads."toy/cnn"]
argv = ["{python}", "train.py"]
[workloads."toy/cnn".hyperparameters]
epochs = { flag = "--epochs", type = "int", default = 2 }
batch_size = { flag = "--bs", type = "int", default = 32 }
learning_rate = { flag = "--lr", type = "float", default = 0.1 }
size = { flag = "--size", type = "str", default = "small", values = ["tiny", "small"], distribution = "choice" }
[workloads."toy/cnn".metrics]
required = ["acc"]
'''


def _one(write_plan, fixed: str, workload: str = "toy/cnn"):  # type: ignore[no-untyped-def]
    (pe,) = expand(load_plan(write_plan(f'[[experiments]]\nworkload = "{workload}"\nhyperparameters = {{ {fixed} }}\n'
                                        + WORKLOAD + SCALED), Registry.builtin())).experiments
    return pe


def test_history_is_scaled_by_epochs_and_batch_size_and_kept_to_its_size(write_plan) -> None:  # type: ignore[no-untyped-def]
    # per epoch: 20 s at batch 32, halved at batch 128 (sqrt of the 4x batch); tiny is ten times faster
    past = [Past(20.0 * e * (32 / b) ** 0.5 * (0.1 if size == "tiny" else 1.0),
                 {"epochs": e, "batch_size": b, "learning_rate": lr, "size": size})
            for e, b, lr, size in [(1, 32, 0.1, "small"), (2, 32, 0.3, "small"), (4, 128, 0.1, "small"),
                                   (1, 128, 0.2, "small"), (2, 64, 0.1, "tiny"), (3, 32, 0.1, "tiny")]]
    est = Estimator(lambda name: past)
    eight = est.predict(_one(write_plan, 'epochs = 8, batch_size = 32, learning_rate = 0.9'))
    assert eight is not None and eight.central_s == pytest.approx(160, rel=0.05)  # lr does not drive duration
    assert eight.low_s < 160 < eight.high_s and eight.high_s / eight.low_s < 3.2  # this machine today: unknown until it runs
    big = est.predict(_one(write_plan, 'epochs = 2, batch_size = 128'))
    assert big is not None and big.central_s == pytest.approx(20, rel=0.1)
    tiny = est.predict(_one(write_plan, 'epochs = 4, size = "tiny"'))
    assert tiny is not None and tiny.central_s == pytest.approx(8, rel=0.15)


def test_the_session_corrects_its_workload_and_the_others(write_plan) -> None:  # type: ignore[no-untyped-def]
    cnn = _one(write_plan, 'epochs = 2')
    flat = _one(write_plan, 'steps = 10', workload="toy/flat")
    est = Estimator(lambda name: [Past(40.0, {"epochs": 2})] * 3 if name == "toy/cnn" else [])
    assert est.predict(cnn).central_s == pytest.approx(40, rel=0.01)  # type: ignore[union-attr]
    assert est.predict(flat).central_s == pytest.approx(40)  # type: ignore[union-attr]  # declared
    est.observe(cnn, 80.0)  # this machine is twice as slow today
    again = est.predict(cnn)  # one run weighed against three that agree: most of the way there
    assert again is not None and 65 < again.central_s < 80 and again.low_s < 80 < again.high_s
    est.observe(cnn, 80.0)
    twice = est.predict(cnn)
    assert twice is not None and again.central_s < twice.central_s < 80 and twice.low_s < 80 < twice.high_s
    assert twice.high_s - twice.low_s < again.high_s - again.low_s  # two runs that agree: a narrower range
    assert est.predict(flat).central_s == pytest.approx(40)  # type: ignore[union-attr]  # a history's shift says nothing of a declaration


def test_declared_durations_are_corrected_after_the_first_run_and_unknown_only_before(write_plan) -> None:  # type: ignore[no-untyped-def]
    flat = _one(write_plan, 'steps = 10', workload="toy/flat")
    cnn, cnn4 = _one(write_plan, 'epochs = 2'), _one(write_plan, 'epochs = 4')
    est = Estimator(lambda name: [])
    declared = est.predict(flat)
    assert declared is not None and declared.high_s / declared.low_s > 10  # declared elsewhere: a wide range
    assert est.predict(cnn) is None and est.remaining([cnn, flat]).unknown == 1
    assert est.remaining([cnn, flat]).text().endswith("+ 1 unknown")
    est.observe(flat, 400.0)  # a CPU, ten times slower than declared
    assert est.predict(flat).central_s == pytest.approx(400, rel=0.08)  # type: ignore[union-attr]  # mostly the run
    est.observe(cnn, 30.0)
    four = est.predict(cnn4)  # from this session's one run, scaled by epochs
    assert four is not None and four.central_s == pytest.approx(60, rel=0.01) and four.low_s < 60 < four.high_s
    assert est.remaining([cnn4, flat]).unknown == 0


def test_overheads_measured_in_the_session_replace_the_declared_ones(write_plan) -> None:  # type: ignore[no-untyped-def]
    cnn = _one(write_plan, 'epochs = 2')
    est = Estimator(lambda name: [Past(40.0, {"epochs": 2})])
    est.observe(cnn, 40.0, elapsed_s=90.0)  # the session's first also paid its one-time set-up: not an overhead
    est.observe(cnn, 40.0, elapsed_s=55.0)
    assert est.predict(cnn).central_s == pytest.approx(55, rel=0.01)  # type: ignore[union-attr]
    left = est.remaining([], running=[(cnn, 50.0)])
    assert left.central_s == pytest.approx(5, rel=0.1)
    assert est.remaining([cnn, cnn], slots=2).central_s == pytest.approx(55, rel=0.01)


def test_the_range_is_honest_on_noisy_histories(write_plan) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    target = _one(write_plan, 'epochs = 3, batch_size = 48')
    truth = 30.0 * 3 * (32 / 48) ** 0.3
    hits = 0
    for _ in range(200):
        past = [Past(30.0 * e * (32 / b) ** 0.3 * math.exp(rng.gauss(0, 0.1)), {"epochs": e, "batch_size": b})
                for e, b in [(1, 32), (2, 32), (2, 64), (4, 16), (1, 128)]]
        est = Estimator(lambda name: past).predict(target)
        assert est is not None
        actual = truth * math.exp(rng.gauss(0, 0.1))
        hits += est.low_s <= actual <= est.high_s
    assert hits >= 160  # a 90 % range holds at least 80 % of the time


DECLARED = '''
[workloads."toy/cnn2"]
argv = ["{python}", "train.py"]
estimated_duration_s = 100
estimated_startup_s = 10
prepare = { argv = ["{python}", "prep.py"], hyperparameters = ["size"] }
[workloads."toy/cnn2".hyperparameters]
epochs = { flag = "--epochs", type = "int", default = 10 }
batch_size = { flag = "--bs", type = "int", default = 32 }
size = { flag = "--size", type = "str", default = "small", values = ["tiny", "small"], distribution = "choice" }
[workloads."toy/cnn2".metrics]
required = ["acc"]

[workloads."toy/rnn2"]
argv = ["{python}", "rnn.py"]
estimated_duration_s = 60
estimated_startup_s = 10
prepare = { argv = ["{python}", "prep_rnn.py"] }
[workloads."toy/rnn2".hyperparameters]
epochs = { flag = "--epochs", type = "int", default = 10 }
[workloads."toy/rnn2".metrics]
required = ["acc"]
'''


def _declared(write_plan, fixed: str, workload: str = "toy/cnn2", mode: str = ""):  # type: ignore[no-untyped-def]
    (pe,) = expand(load_plan(write_plan(f'[[experiments]]\nworkload = "{workload}"\n{mode}'
                                        f'hyperparameters = {{ {fixed} }}\n' + DECLARED), Registry.builtin())).experiments
    return pe


def test_a_declaration_is_corrected_in_two_parts_the_start_up_and_the_epochs(write_plan) -> None:  # type: ignore[no-untyped-def]
    # declared (a GPU): 10 s start-up, 9 s an epoch; this CPU: 12 s start-up, 270 s an epoch (30x)
    one, four = _declared(write_plan, "epochs = 1"), _declared(write_plan, "epochs = 4")
    big_batch = _declared(write_plan, "epochs = 4, batch_size = 128")
    est = Estimator(lambda name: [])
    assert est.predict(four).central_s == pytest.approx(10 + 36)  # type: ignore[union-attr]
    # the prior exponent (-0.5) of batch size scales the epochs, not the start-up
    assert est.predict(big_batch).central_s == pytest.approx(10 + 36 * 0.5)  # type: ignore[union-attr]
    est.observe(one, 12 + 270)
    after = est.predict(four)
    # one ratio on the whole (282 / 19) would say 683 s; the epochs carry the slowness: 12 + 4 x 270
    assert after is not None and after.central_s == pytest.approx(1092, rel=0.1)
    assert after.low_s < 1092 < after.high_s
    big = est.predict(big_batch)  # the prior exponent on the corrected epochs: about 12 + 1080 / 2
    assert big is not None and big.central_s == pytest.approx(12 + 540, rel=0.15)


def test_a_workload_not_run_yet_gets_the_session_wide_factors_with_more_spread(write_plan) -> None:  # type: ignore[no-untyped-def]
    cnn, rnn = _declared(write_plan, "epochs = 10"), _declared(write_plan, "epochs = 10", "toy/rnn2")
    est = Estimator(lambda name: [])
    for seconds in (500.0, 520.0, 480.0):  # five times the declaration
        est.observe(cnn, seconds)
    seen, unseen = est.predict(cnn), est.predict(rnn)
    assert seen is not None and seen.central_s == pytest.approx(500, rel=0.05)
    # toy/rnn2 declared 60 s: the machine's factor carries over, most of the way (~5x), not all
    assert unseen is not None and 3.5 * 60 < unseen.central_s < 5.2 * 60
    assert unseen.high_s / unseen.low_s > 2 * seen.high_s / seen.low_s  # its own declaration may be off
    assert unseen.low_s < 300 < unseen.high_s
    est.observe(rnn, 120.0)  # twice its declaration: its own run outweighs the session's factor
    own = est.predict(rnn)
    assert own is not None and own.central_s < 0.6 * unseen.central_s and 100 < own.central_s < 150
    # and toy/cnn2's own runs keep it where it is
    assert est.predict(cnn).central_s == pytest.approx(500, rel=0.05)  # type: ignore[union-attr]


def test_each_prepare_step_is_paid_once_at_its_measured_length(write_plan) -> None:  # type: ignore[no-untyped-def]
    small, tiny = _declared(write_plan, "epochs = 10"), _declared(write_plan, 'epochs = 10, size = "tiny"')
    rnn = _declared(write_plan, "epochs = 10", "toy/rnn2")
    est = Estimator(lambda name: [])
    # before anything ran: each prepare (small, tiny: other argv) costs the declared start-up (10 s), once
    assert est.remaining([small, small, tiny]).central_s == pytest.approx(3 * 100 + 2 * 10)
    est.observe(small, 100.0, elapsed_s=100.0 + 30.0, prepared=[{"log": "prepare/01-toy.log", "duration_s": 30.0}])
    assert est.prepare_s == [30.0]
    # small is prepared; tiny and rnn are not: they cost what this session's prepare took
    assert est.remaining([small]).central_s == pytest.approx(100, rel=0.02)
    assert est.remaining([small, tiny]).central_s == pytest.approx(200 + 30, rel=0.02)
    assert est.remaining([rnn, rnn]).central_s == pytest.approx(2 * 60 + 30, rel=0.05)
    # a running experiment pays its own prepare; the seconds it ran come off
    assert est.remaining([], running=[(tiny, 50.0)]).central_s == pytest.approx(100 + 30 - 50, rel=0.02)
    # the second experiment that relied on the same run does not count it again
    est.observe(small, 100.0, elapsed_s=100.0, prepared=[{"log": "prepare/01-toy.log", "duration_s": 30.0}])
    assert est.prepare_s == [30.0] and est.overheads["sequential"] == [pytest.approx(0.0)]


def test_overheads_beyond_the_declared_ones_are_learnt_and_carried_to_another_mode(write_plan) -> None:  # type: ignore[no-untyped-def]
    seq = _declared(write_plan, "epochs = 10")
    par = _declared(write_plan, "epochs = 10", mode='mode = "parallel"\nbackground = { workload = "toy/rnn2" }\n')
    est = Estimator(lambda name: [])
    assert est.predict(par).central_s == pytest.approx(100 + 10)  # type: ignore[union-attr]  # the background's start-up
    for elapsed in (110.0, 104.0, 104.0, 105.0):  # the first paid a one-time set-up
        est.observe(seq, 100.0, elapsed_s=elapsed)
    assert est.predict(seq).central_s == pytest.approx(104, rel=0.01)  # type: ignore[union-attr]
    # parallel not seen yet: its declared overheads plus what the session spends beyond them
    assert est.predict(par).central_s == pytest.approx(100 + 10 + 4, rel=0.01)  # type: ignore[union-attr]


def _simulate(rng: random.Random, planned: list, machine: tuple[float, float]) -> tuple[float, Eta]:  # type: ignore[type-arg]
    """One session: each workload's true start-up and per-epoch time off its declaration by the
    machine's factors and its own; the ETA after 20 % of the experiments against what the rest took."""
    own = {name: (rng.gauss(0, 0.4), rng.gauss(0, 0.4)) for name in ("toy/cnn2", "toy/rnn2")}

    def seconds(pe) -> float:  # type: ignore[no-untyped-def]
        s, e = own[pe.workload.name]
        startup, work, _ = declared_parts(pe)
        return (startup * math.exp(machine[0] + s) + work * math.exp(machine[1] + e)) * math.exp(rng.gauss(0, 0.1))

    truth = [seconds(pe) for pe in planned]
    k = round(0.2 * len(planned))
    est = Estimator(lambda name: [])
    for pe, t in zip(planned[:k], truth[:k]):
        est.observe(pe, t)
    return sum(truth[k:]), est.remaining(planned[k:])


def test_on_simulated_sessions_the_range_holds_and_the_error_stays_small(write_plan) -> None:  # type: ignore[no-untyped-def]
    # two workloads interleaved, epochs 2..12; machines from a GPU like the declaring one to a CPU 40x slower
    planned = [_declared(write_plan, f"epochs = {e}", w) for e in (2, 4, 6, 8, 10, 12, 3, 5, 7, 9)
               for w in ("toy/cnn2", "toy/rnn2")]
    rng = random.Random(11)
    errors, hits = [], 0
    for i in range(120):
        machine = (rng.gauss(0, 0.3), math.log(40) * i / 119 + rng.gauss(0, 0.2))
        actual, eta = _simulate(rng, planned, machine)
        assert eta.central_s is not None and eta.low_s is not None and eta.high_s is not None and not eta.unknown
        errors.append(abs(eta.central_s - actual) / actual)
        hits += eta.low_s <= actual <= eta.high_s
    errors.sort()
    assert errors[len(errors) // 2] < 0.15  # the median session within 15 %
    assert hits >= 0.8 * len(errors)  # a 90 % range holds in at least 80 % of sessions


def test_a_noisy_history_lets_one_run_move_the_estimate_less_than_a_steady_one(write_plan) -> None:  # type: ignore[no-untyped-def]
    cnn = _one(write_plan, 'epochs = 2')
    steady = [Past(40.0 * f, {"epochs": 2}) for f in (0.98, 1.0, 1.02, 0.99, 1.01, 1.0)]
    noisy = [Past(40.0 * f, {"epochs": 2}) for f in (0.5, 1.6, 0.8, 1.25, 0.62, 2.0)]
    moved = {}
    for name, past in (("steady", steady), ("noisy", noisy)):
        est = Estimator(lambda workload, past=past: past)  # type: ignore[misc]
        before = est.predict(cnn)
        est.observe(cnn, 80.0)
        after = est.predict(cnn)
        assert before is not None and after is not None
        moved[name] = after.central_s / before.central_s
    # a run twice the history: believed most of the way after a steady history, less after a noisy one
    assert moved["steady"] > 1.6 and 1.0 < moved["noisy"] < moved["steady"] - 0.2
