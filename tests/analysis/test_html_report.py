import re

from hyperwatt.analysis import ReportInputs, analyse, render_report, summary_text

from .factories import record


def _goals(workload: str, metric: str):
    return {"test_accuracy": "max", "test_loss": "min"}.get(metric)


def _render(records, **kw) -> str:
    return render_report(analyse(records, goals=_goals), ReportInputs(title="test report", generated_wall=0.0, **kw))


def _images(html: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]*)"', html)


def _study():
    runs = []
    for v, a in ((100.0, 0.899), (102.0, 0.900), (104.0, 0.901)):
        runs.append(record(hp={"learning_rate": 0.01, "epochs": 10}, gpu_j=v, gpu_unc_j=1.0, cpu_j=20.0,
                           cpu_unc_j=2.0, metrics={"test_accuracy": a, "test_loss": 0.3}))
    for v, a in ((97.0, 0.903), (99.0, 0.904), (101.0, 0.905)):
        runs.append(record(hp={"learning_rate": 0.02, "epochs": 10}, mutated=("learning_rate",), gpu_j=v,
                           gpu_unc_j=1.0, cpu_j=20.0, cpu_unc_j=2.0, metrics={"test_accuracy": a, "test_loss": 0.25}))
    runs.append(record(hp={"learning_rate": 0.04, "epochs": 10}, mutated=("learning_rate",), gpu_j=130.0,
                       metrics={"test_accuracy": 0.7, "test_loss": 0.9}))
    failed = record(hp={"learning_rate": 0.08, "epochs": 10}, mutated=("learning_rate",), status="failed",
                    gpu_j=None, label="mutate <script>alert(1)</script>")
    failed.status_reason = "exit code 1 (NaN loss)"
    return runs + [failed]


def test_report_has_every_section_with_the_numbers() -> None:
    runs = _study()
    html = _render(runs)
    for section in ('id="overview"', 'id="validity"', 'id="method"', 'id="examples-mnist-sequential"'):
        assert section in html
    assert "<b>7</b> of 8 experiment(s) valid" in html
    assert runs[-1].experiment_id in html and "exit code 1 (NaN loss)" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html  # autoescaped
    assert "102 J" in html and "99 J" in html  # setting means
    assert "SD 2 J" in html  # run-to-run spread of the default setting
    assert "measurement ±1 J" in html  # propagated bound
    assert "−2.9%" in html  # learning_rate ×2: 99 J vs 102 J
    assert "learning_rate 0.01→0.02 (×2)" in html
    assert "nvml-energy-counter" in html and "100 ms" in html and "NVIDIA H100 80GB HBM3" in html
    assert "node-a" in html
    assert "Spearman" in html and "Pareto" in html
    images = _images(html)
    assert len(images) >= 2 and all(src.startswith("data:image/png;base64,") for src in images)
    assert "http://" not in html and "https://" not in html  # self-contained


def test_no_energy_says_not_measured_and_plots_no_energy() -> None:
    runs = [record(hp={"learning_rate": lr}, mutated=() if lr == 0.01 else ("learning_rate",), gpu_j=None,
                   metrics={"test_accuracy": a}) for lr, a in ((0.01, 0.9), (0.02, 0.91), (0.04, 0.85))]
    html = _render(runs)
    assert "not measured" in html
    assert "energy vs metrics" not in html
    assert not re.search(r">\s*0 J", html)
    assert len(_images(html)) == 1  # hyperparameters vs duration and metrics
    text = summary_text(analyse(runs, goals=_goals))
    assert "energy not measured" in text


def test_single_experiment() -> None:
    html = _render([record()])
    assert "n = 1: no spread" in html and "100 J" in html
    assert "No hyperparameter varies" in html


def test_only_failed_experiments() -> None:
    failed = record(status="failed", gpu_j=None)
    html = _render([failed])
    assert "No valid experiment" in html and failed.experiment_id in html
    assert "nothing to analyse" in summary_text(analyse([failed], goals=_goals))


def test_no_experiments_at_all() -> None:
    assert "No valid experiment" in _render([])


def test_hundreds_of_experiments() -> None:
    runs = [record(hp={"learning_rate": 0.001 * (1 + s), "epochs": 5 + s % 10}, mutated=("learning_rate", "epochs"),
                   gpu_j=100.0 + s + r, metrics={"test_accuracy": 0.5 + s / 400, "test_loss": 1.0 - s / 200})
            for s in range(100) for r in range(2)]
    html = _render(runs)
    assert "200 valid run(s) of 100 setting(s)" in html
    assert "<b>200</b> of 200" in html


def test_summary_text_names_effects_changes_and_front() -> None:
    text = summary_text(analyse(_study(), goals=_goals))
    assert "8 experiments, 7 valid, 1 excluded (failed ×1)" in text
    assert "1 of 3 settings ran once: their run-to-run spread is unknown" in text  # no ρ from them
    assert "vs default: learning_rate ×2 → GPU energy −2.9%" in text
    assert "Pareto (GPU energy ↓, test_accuracy ↑): learning_rate=0.02" in text


def test_trade_offs_use_the_training_phase_when_every_run_marked_it_and_say_so() -> None:
    from .factories import with_train_phase

    runs = [with_train_phase(r, train_j=(r.energy.gpu_energy_j or 0.0) * 0.6) for r in _study()[:6]]
    html = _render(runs)
    assert "Trade-offs use <b>training-phase GPU energy</b>" in html
    assert "without start-up, evaluation and teardown" in html and "the whole window's GPU energy is beside it" in html
    assert "<th>GPU energy</th>" in html and "<th>training GPU energy per epoch</th>" in html
    mixed = _render([*runs, _study()[6]])  # one run without phases: the whole window's, and why
    assert "Trade-offs use <b>GPU energy</b>" in mixed and "1 run(s) of the group did not mark" in mixed
