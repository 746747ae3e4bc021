import base64
from pathlib import Path

from hyperwatt.analysis import (
    analyse, attribution_bars, energy_vs_metric, hyperparameter_panels, power_timeline, read_timeline,
)

from .factories import record

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COLUMNS = "sensor,t_mono,t_wall,power_w,power_avg_w,energy_j,util_pct,mem_used_mib,temp_c,sm_clock_mhz,error"


def _goals(workload: str, metric: str):
    return {"test_accuracy": "max"}.get(metric)


def _png(plot) -> bytes:
    data = base64.b64decode(plot.png_base64)
    assert data.startswith(PNG_MAGIC)
    assert plot.data_uri.startswith("data:image/png;base64,")
    return data


def _runs(**kw):
    return [record(hp={"learning_rate": lr}, mutated=() if lr == 0.01 else ("learning_rate",), gpu_j=e,
                   metrics={"test_accuracy": a}, **kw)
            for lr, e, a in ((0.01, 100.0, 0.9), (0.02, 90.0, 0.88), (0.04, 120.0, 0.85), (0.02, 92.0, 0.89))]


def test_scatter_and_panels_are_pngs() -> None:
    (g,) = analyse(_runs(), goals=_goals).groups
    _png(energy_vs_metric(g))
    _png(hyperparameter_panels(g))
    assert attribution_bars(g) is None  # sequential


def test_no_energy_no_energy_plot() -> None:
    (g,) = analyse([record(hp={"learning_rate": lr}, gpu_j=None) for lr in (0.01, 0.02)], goals=_goals).groups
    assert g.energy is None
    assert energy_vs_metric(g) is None
    _png(hyperparameter_panels(g))  # duration and metrics only


def test_nothing_varied_no_panels() -> None:
    (g,) = analyse([record(), record()], goals=_goals).groups
    assert hyperparameter_panels(g) is None


def test_parallel_attribution_bars() -> None:
    runs = [record(mode="parallel", background="pytorch_resnet_cifar10/resnet20", hp={"learning_rate": lr},
                   gpu_j=300.0, marginal_j=m, share=0.5) for lr, m in ((0.01, 120.0), (0.02, 100.0))]
    (g,) = analyse(runs, goals=_goals).groups
    _png(attribution_bars(g))


def test_power_timeline_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    lines = [COLUMNS]
    for i in range(50):
        t = i * 0.1
        lines.append(f"gpu0,{t},{995.0 + t},{60 + (i > 10) * 200},{80},{t * 100},{90},{1000},{50},{1800},")
    lines.append("gpu0,5.1,1000.1,,,,,,,,NVML_ERROR_UNKNOWN")
    lines.append(f"cpu,{1.0},{996.0},{30},,,,,,,")
    path.write_text("\n".join(lines) + "\n")
    df = read_timeline(path)
    assert df is not None and len(df) == 51  # the failed read is dropped
    assert set(df["sensor"]) == {"gpu0", "cpu"}
    plot = power_timeline(record(idle_w=60.0), df)
    _png(plot)
    assert "nvml-energy-counter" in plot.caption


def test_unreadable_timelines_are_none(tmp_path: Path) -> None:
    assert read_timeline(tmp_path / "missing.csv") is None
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert read_timeline(bad) is None
    empty = tmp_path / "empty.csv"
    empty.write_text(COLUMNS + "\n")
    assert read_timeline(empty) is None
