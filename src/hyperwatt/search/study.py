"""The study behind a search: Optuna's RDB storage in the results directory, and its sampler."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from hyperwatt.errors import HyperwattError

STUDY_FILE = "search.db"


def require_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise HyperwattError("a plan with a 'search' needs Optuna: pip install 'hyperwatt[search]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage_url(results_dir: Path) -> str:
    """`sqlite:///…/search.db`: what `optuna-dashboard` and `optuna.load_study` take."""
    return f"sqlite:///{(Path(results_dir) / STUDY_FILE).resolve()}"


def constraints_of(trial: Any) -> list[float]:
    """Optuna 4's constraints_func: the violations the driver stored on the trial (<= 0 feasible)."""
    return list(trial.user_attrs.get("constraints", []))


def set_constraints(trial: Any, violations: list[float]) -> None:
    """Give a trial its constraint violations (<= 0 feasible) before it is told: Optuna 5 reads them
    from the trial itself; Optuna 4's samplers through `constraints_of`."""
    trial.set_user_attr("constraints", violations)
    if hasattr(trial, "set_constraint"):
        for i, v in enumerate(violations):
            trial.set_constraint(str(i), v)


def _takes_trial_constraints() -> bool:
    import optuna

    return hasattr(optuna.trial.Trial, "set_constraint")


def make_sampler(kind: str | None, objectives: int, trials: int, seed: int, grid: dict[str, list[Any]] | None,
                 constrained: bool) -> Any:
    """tpe | nsga2 | random | grid, seeded; None picks TPE (multi-objective TPE for several
    objectives: on budgets of tens of trials it beats NSGA-II, see benchmarks/search_efficiency.py).
    Population and start-up sizes follow the trial budget (Optuna's defaults assume hundreds)."""
    optuna = require_optuna()
    kind = kind or "tpe"
    cf: Callable[[Any], list[float]] | None = constraints_of if constrained and not _takes_trial_constraints() else None
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(3, trials // 4)),
                                          multivariate=True, constraints_func=cf)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=min(50, max(4, trials // 5)),
                                             constraints_func=cf)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    assert grid is not None
    return optuna.samplers.GridSampler(grid, seed=seed)


def open_study(storage: str | None, name: str, directions: list[str], sampler: Any) -> Any:
    """Create or continue the study `name` (a resumed search continues the same one)."""
    optuna = require_optuna()
    try:
        return optuna.create_study(storage=storage, study_name=name, directions=directions, sampler=sampler,
                                   load_if_exists=True)
    except ValueError as exc:  # same name, other directions: a changed plan
        raise HyperwattError(f"search study {name!r} in {storage}: {exc}; rename the plan entry or "
                             "remove the study") from None
