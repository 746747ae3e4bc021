"""The report's search section: each study of `RESULTS/search.db` with trials among the report's experiments.

Per study: trials measured, reused and failed (with reasons), the energy its trainings used, the
Pareto front it found, the best saving over the default setting at an equal metric, and the trials
over time. Reads Optuna's storage; without Optuna installed the section is left out.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from hyperwatt.analysis.plots import Plot, _png
from hyperwatt.search.study import STUDY_FILE, storage_url

#: A setting counts as "at an equal metric" when its metric is within this relative tolerance of the default's.
EQUAL_METRIC_TOLERANCE = 0.01
ENERGY_NAMES = ("gpu_energy_j", "gpu_net_energy_j", "cpu_energy_j", "dram_energy_j", "total_energy_j")


@dataclass
class StudyView:
    name: str
    storage: str
    objectives: list[str]  # "name (min)" per objective
    trials: int
    measured: int
    reused: int
    failed: int
    reasons: list[tuple[str, int]]
    energy_spent_j: float
    default: dict[str, Any] | None
    front: list[dict[str, Any]] = field(default_factory=list)
    saving: str | None = None
    figure: Plot | None = None


def search_studies(results_dir: Path | None, experiment_ids: set[str]) -> list[StudyView]:
    """The studies whose trials include one of `experiment_ids` (the report's experiments)."""
    if results_dir is None or not (Path(results_dir) / STUDY_FILE).exists():
        return []
    try:
        import optuna
    except ImportError:
        return []
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage_url(Path(results_dir))
    out = []
    for summary in optuna.get_all_study_summaries(url, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=url)
        trials = study.get_trials(deepcopy=False)
        if not any(t.user_attrs.get("experiment_id") in experiment_ids for t in trials):
            continue
        out.append(_view(study, trials, url))
    return out


def _view(study: Any, trials: list[Any], url: str) -> StudyView:
    import optuna

    S = optuna.trial.TrialState
    names = list(study.metric_names or [f"objective {i}" for i in range(len(study.directions))])
    dirs = ["min" if d == optuna.study.StudyDirection.MINIMIZE else "max" for d in study.directions]
    done = [t for t in trials if t.state == S.COMPLETE]
    failed = [t for t in trials if t.state == S.FAIL and "experiment_id" in t.user_attrs]
    reasons = Counter(str(t.user_attrs.get("reason", "unknown")).split(":")[0] for t in failed)
    default = next((t for t in done if t.user_attrs.get("default")), None)
    try:
        best = study.best_trials
    except (ValueError, RuntimeError):
        best = []
    view = StudyView(
        name=study.study_name, storage=url, objectives=[f"{n} ({d})" for n, d in zip(names, dirs)],
        trials=len(done) + len(failed), measured=sum(not t.user_attrs.get("reused") for t in done + failed),
        reused=sum(bool(t.user_attrs.get("reused")) for t in done), failed=len(failed),
        reasons=reasons.most_common(), energy_spent_j=sum(float(t.user_attrs.get("energy_j", 0.0)) for t in trials),
        default=_row(default, names) if default is not None else None,
        front=[_row(t, names) for t in sorted(best, key=lambda t: t.values[0])])
    view.saving = _saving(default, done, names, dirs)
    view.figure = _figure(study.study_name, trials, {t.number for t in best}, names[0], dirs[0])
    return view


def _row(t: Any, names: list[str]) -> dict[str, Any]:
    return {"number": t.number, "params": ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items()),
            "scores": ", ".join(f"{n} {_fmt(v)}" for n, v in zip(names, t.values)),
            "experiment_id": t.user_attrs.get("experiment_id", ""), "reused": bool(t.user_attrs.get("reused")),
            "default": bool(t.user_attrs.get("default")), "feasible": all(c <= 0 for c in t.constraints.values())
            if hasattr(t, "constraints") else True}


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _saving(default: Any, done: list[Any], names: list[str], dirs: list[str]) -> str | None:
    """The largest energy saving over the default among settings whose other objectives are not
    worse than the default's by more than EQUAL_METRIC_TOLERANCE (relative)."""
    energy = next((i for i, n in enumerate(names) if n in ENERGY_NAMES and dirs[i] == "min"), None)
    if default is None or energy is None or not default.values[energy] > 0:
        return None

    def as_good(t: Any) -> bool:
        for i, d in enumerate(dirs):
            if i == energy:
                continue
            ref, v = default.values[i], t.values[i]
            slack = EQUAL_METRIC_TOLERANCE * abs(ref)
            if (d == "max" and v < ref - slack) or (d == "min" and v > ref + slack):
                return False
        return all(c <= 0 for c in getattr(t, "constraints", {}).values())

    better = [t for t in done if as_good(t) and t.values[energy] < default.values[energy]]
    if not better:
        return (f"no setting found used less {names[energy]} than the default without a worse "
                f"{', '.join(n for i, n in enumerate(names) if i != energy) or 'metric'}")
    top = min(better, key=lambda t: t.values[energy])
    cut = 1 - top.values[energy] / default.values[energy]
    others = "; ".join(f"{n} {_fmt(top.values[i])} (default {_fmt(default.values[i])})"
                       for i, n in enumerate(names) if i != energy)
    return (f"trial #{top.number} ({', '.join(f'{k}={_fmt(v)}' for k, v in top.params.items())}) uses "
            f"{100 * cut:.1f} % less {names[energy]} than the default" + (f" at {others}" if others else ""))


def _figure(name: str, trials: list[Any], front: set[int], objective: str, direction: str) -> Plot | None:
    import optuna

    S = optuna.trial.TrialState
    done = [t for t in trials if t.state == S.COMPLETE]
    if not done:
        return None
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    xs = [t.number for t in done]
    ys = [t.values[0] for t in done]
    ax.scatter(xs, ys, s=18, color="#4878a8", label="trial")
    on_front = [t for t in done if t.number in front]
    ax.scatter([t.number for t in on_front], [t.values[0] for t in on_front], s=46, facecolors="none",
               edgecolors="#d1722b", linewidths=1.6, label="on the front found")
    best, line = math.inf if direction == "min" else -math.inf, []
    for t in sorted(done, key=lambda t: t.number):
        best = min(best, t.values[0]) if direction == "min" else max(best, t.values[0])
        line.append((t.number, best))
    ax.step([p[0] for p in line], [p[1] for p in line], where="post", color="#555555", lw=1, label="best so far")
    failed = [t.number for t in trials if t.state == S.FAIL and "experiment_id" in t.user_attrs]
    if failed:
        ax.scatter(failed, [min(ys)] * len(failed), marker="x", color="#b03030", label="failed (not told)")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return Plot(f"Search {name}: {objective} per trial",
                "Every measured trial in order; circled: on the Pareto front the search found; "
                "crosses: failed or invalid trials, never told to the sampler.", _png(fig))
