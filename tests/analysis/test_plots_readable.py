"""Plots people read: laptop-sized, no overlapping labels (long names abbreviated, the full ones in
the caption), one colour per mode, and every run's power timeline in the report."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from hyperwatt.analysis import analyse, plots
from hyperwatt.analysis.report import ReportInputs, _timelines
from hyperwatt.store import SessionLayout

from .factories import record
from .test_plots import COLUMNS


def _goals(workload: str, metric: str):
    return {"test_accuracy": "max"}.get(metric)


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plot functions draw (their PNGs are still made)."""
    drawn = []
    real = plots._png

    def keep(fig):
        drawn.append(fig)
        return real(fig)

    monkeypatch.setattr(plots, "_png", keep)
    return drawn


def _size(plot) -> tuple[int, int]:
    data = base64.b64decode(plot.png_base64)
    return struct.unpack(">II", data[16:24])


def _overlaps(boxes) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            if boxes[i].width and boxes[j].width and boxes[i].overlaps(boxes[j])]


def _no_overlap(fig) -> None:
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    labels = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
        assert not _overlaps(ticks), [t.get_text() for t in ax.get_xticklabels()]
        labels += [t.get_window_extent(renderer) for t in (ax.title, ax.xaxis.label, ax.yaxis.label) if t.get_text()]
    assert not _overlaps(labels)


def _study(mode: str = "sequential", n_hp: int = 6):
    """A study with long category values and many varied hyperparameters."""
    runs = []
    for i in range(8):
        hp = {f"hyperparameter_number_{k}": (i + k) % 4 + 1 for k in range(n_hp)}
        hp["optimizer"] = ["stochastic_gradient_descent_with_momentum", "adam_with_decoupled_weight_decay",
                           "rmsprop_centered_variant"][i % 3]
        runs.append(record(workload="Person_reID_with_a_long_name/densenet121_variant", hp=hp,
                           mutated=tuple(hp) if i else (), label=f"mutate everything at once #{i}" if i else None,
                           gpu_j=100.0 + 7 * i, metrics={"test_accuracy": 0.8 + i / 100, "test_loss": 0.5 - i / 50},
                           mode=mode, background="pytorch_resnet_cifar10/resnet20" if mode == "parallel" else None,
                           **({"marginal_j": 50.0 + i, "share": 0.5} if mode == "parallel" else {})))
    (g,) = analyse(runs, goals=_goals).groups
    return g


def test_figures_fit_a_laptop_screen_and_their_labels_do_not_overlap(figures):
    g = _study(n_hp=5)
    made = [p for p in (plots.energy_vs_metric(g), plots.hyperparameter_panels(g)) if p is not None]
    assert len(made) == 2
    for plot in made:
        width, height = _size(plot)
        assert 600 <= width <= plots.FIGURE_WIDTH_IN * plots.DPI + 2 and height < 2000, (width, height)
    for fig in figures:
        _no_overlap(fig)
        for ax in fig.axes:
            for label in ax.get_xticklabels():
                assert len(label.get_text()) <= plots.LABEL_CHARS
                assert label.get_fontsize() >= plots.SMALL
    panels = made[1]
    assert "stochastic_gradient_descent_with_momentum" in panels.caption  # the full name, abbreviated on the axis
    assert "1 default" in made[0].caption  # the points' key


def test_each_mode_has_its_colour_in_every_figure(figures):
    for mode in ("sequential", "parallel"):
        figures.clear()
        g = _study(mode, n_hp=2)
        plots.hyperparameter_panels(g)
        plots.energy_vs_metric(g)
        colours = {to_hex(line.get_color()) for fig in figures for ax in fig.axes for line in ax.get_lines()
                   if line.get_marker() in ("o", "*")}
        assert plots.MODE_COLOURS[mode] in colours
        other = next(c for m, c in plots.MODE_COLOURS.items() if m != mode)
        assert other not in colours
    figures.clear()
    bars = plots.attribution_bars(_study("parallel", n_hp=2))
    assert bars is not None and "1 default" in bars.caption
    _no_overlap(figures[0])


def _timeline(tmp_path: Path, rec, watts: float) -> None:
    path = SessionLayout(tmp_path, rec.session_id).experiment(rec.experiment_id).timeline
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"gpu0,{i / 10},{rec.started_wall + i / 10},{watts + i % 3},,,,,,," for i in range(100)]
    rows += [f"gpu1,{i / 10},{rec.started_wall + i / 10},{watts / 2},,,,,,," for i in range(100)]
    path.write_text(COLUMNS + "\n" + "\n".join(rows) + "\n")


def test_the_report_has_every_runs_power_timeline(tmp_path, figures):
    runs = [record(hp={"learning_rate": 0.01 * (1 + i % 3)}, mutated=("learning_rate",) if i % 3 else (),
                   gpu_j=100.0 + i) for i in range(23)]
    for i, r in enumerate(runs):
        r.energy.window_start_wall = r.started_wall
        if i != 5:  # one run's timeline is gone
            _timeline(tmp_path, r, 100.0 + 10 * i)
    analysis = analyse(runs, goals=_goals)
    shown = _timelines(analysis, ReportInputs(title="t", results_dir=tmp_path))
    overlays = [p for p in shown if "power of every run" in p.title]
    assert len(overlays) == 2  # 22 runs, 20 per figure
    legends = [t.get_text() for fig in figures for ax in fig.axes if ax.get_legend()
               for t in ax.get_legend().get_texts()]
    for i, r in enumerate(runs):
        assert any(t.startswith(f"#{r.slot + 1} ") for t in legends) == (i != 5)
    assert runs[5].experiment_id in overlays[-1].caption  # named, not silently missing
    assert any(p.title.startswith("power timeline of") for p in shown)  # the detailed representative
    for plot in shown:
        assert _size(plot)[0] <= plots.FIGURE_WIDTH_IN * plots.DPI + 2
