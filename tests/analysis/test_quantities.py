import math

from hyperwatt.analysis.quantities import (
    CPU_ENERGY, DURATION, GPU_ENERGY, MARGINAL_ENERGY, NET_ENERGY, SHARE_ENERGY, TOTAL_ENERGY, measure,
    metric_names, metric_quantity, primary_energy, stated,
)

from .factories import record


def test_energies_come_with_their_bounds() -> None:
    r = record(gpu_j=200.0, gpu_unc_j=2.0, cpu_j=50.0, cpu_unc_j=5.0, idle_w=5.0, duration_s=10.0)
    assert measure(r, GPU_ENERGY) == (200.0, 2.0)
    assert measure(r, CPU_ENERGY) == (50.0, 5.0)
    assert measure(r, TOTAL_ENERGY) == (250.0, 7.0)  # worst-case bounds add
    assert measure(r, NET_ENERGY) == (150.0, 2.0)
    assert measure(r, DURATION) == (10.0, None)


def test_parallel_attributions() -> None:
    r = record(mode="parallel", background="pytorch_resnet_cifar10/resnet20", gpu_j=300.0, gpu_unc_j=3.0,
               marginal_j=120.0, marginal_unc_j=40.0, share=0.4)
    assert measure(r, MARGINAL_ENERGY) == (120.0, 40.0)  # the record's own bound, not the counter's alone
    value, bound = measure(r, SHARE_ENERGY)
    assert math.isclose(value, 120.0) and bound is None  # an estimate without a stated bound
    # the trade-offs use the device total over the foreground's window, as the seed did
    assert primary_energy("parallel", [r]) == GPU_ENERGY
    assert stated(GPU_ENERGY, [r]) and stated(MARGINAL_ENERGY, [r]) and not stated(SHARE_ENERGY, [r])
    old = record(mode="parallel", background="x/y", gpu_j=300.0, gpu_unc_j=3.0, marginal_j=-776.0, share=0.4)
    assert measure(old, MARGINAL_ENERGY) == (-776.0, None) and not stated(MARGINAL_ENERGY, [old])


def test_nothing_is_ranked_on_an_energy_without_a_stated_bound() -> None:
    from hyperwatt.analysis import analyse

    runs = [record(mode="parallel", background="x/y", hp={"lr": lr}, mutated=("lr",), gpu_j=300.0 + 100 * i,
                   gpu_unc_j=3.0, marginal_j=100.0 + 50 * i, share=0.3 + 0.1 * i, metrics={"test_accuracy": 0.9 - i / 100})
            for i, lr in enumerate((0.01, 0.02, 0.04, 0.08))]
    (g,) = analyse(runs).groups
    assert g.energy == GPU_ENERGY
    ranked = {c.quantity.key for c in g.correlations}
    assert "gpu_energy_j" in ranked
    assert "fg_util_share_energy_j" not in ranked and "fg_marginal_energy_j" not in ranked  # no bound stated


def test_unmeasured_partial_and_non_finite_values_are_none_never_zero() -> None:
    none = record(gpu_j=None)
    assert measure(none, GPU_ENERGY) == (None, None)
    assert measure(none, TOTAL_ENERGY) == (None, None)
    partial = record(gpu_j=80.0, partial=True)
    assert measure(partial, GPU_ENERGY) == (None, None)
    nan = record(metrics={"test_accuracy": float("nan"), "test_loss": 0.2})
    assert measure(nan, metric_quantity("test_accuracy")) == (None, None)
    assert metric_names([nan]) == ["test_loss"]


def test_primary_energy_prefers_gpu_then_total_then_cpu() -> None:
    gpu = record(gpu_j=100.0, cpu_j=20.0)
    cpu_only = record(gpu_j=None, cpu_j=20.0)
    assert primary_energy("sequential", [gpu]) == GPU_ENERGY
    assert primary_energy("sequential", [cpu_only]) == CPU_ENERGY
    assert primary_energy("sequential", [cpu_only, cpu_only, gpu]) == CPU_ENERGY  # measured most often
    assert primary_energy("sequential", [record(gpu_j=None)]) is None


def test_training_phase_quantities_come_from_the_record_s_phases():
    from .factories import record, with_train_phase

    from hyperwatt.analysis.quantities import (
        TRAIN_DURATION, TRAIN_EPOCH_ENERGY, TRAIN_GPU_ENERGY, TRAIN_NET_ENERGY, TRAIN_SAMPLE_ENERGY, measure,
    )

    rec = with_train_phase(record(gpu_j=100.0), train_j=60.0, train_unc_j=0.5, epochs=2, samples=1000)
    assert measure(rec, TRAIN_GPU_ENERGY) == (60.0, 0.5)
    assert measure(rec, TRAIN_NET_ENERGY) == (20.0, 0.5)
    assert measure(rec, TRAIN_EPOCH_ENERGY) == (30.0, 0.25)
    assert measure(rec, TRAIN_SAMPLE_ENERGY) == (0.06, 0.0005)
    assert measure(rec, TRAIN_DURATION) == (4.0, None)
    unknown = with_train_phase(record(gpu_j=100.0), train_j=60.0, epochs=None, samples=None)
    assert measure(unknown, TRAIN_EPOCH_ENERGY) == (None, None) and measure(unknown, TRAIN_SAMPLE_ENERGY) == (None, None)
    assert measure(record(gpu_j=100.0), TRAIN_GPU_ENERGY) == (None, None)  # no phases: not measured


def test_the_primary_energy_is_the_training_phase_only_when_every_run_has_it():
    from .factories import record, with_train_phase

    from hyperwatt.analysis.quantities import GPU_ENERGY, TRAIN_GPU_ENERGY, primary_energy

    runs = [with_train_phase(record(gpu_j=100.0 + i), train_j=60.0 + i) for i in range(3)]
    assert primary_energy("sequential", runs) == TRAIN_GPU_ENERGY
    assert primary_energy("parallel", runs) == TRAIN_GPU_ENERGY
    assert primary_energy("sequential", [*runs, record(gpu_j=120.0)]) == GPU_ENERGY
