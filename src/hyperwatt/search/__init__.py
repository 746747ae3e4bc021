"""Energy-aware search: Optuna samplers propose settings, every trial is a measured hyperwatt experiment.

`objectives` reads a trial's objective and constraint values from an experiment record; `space`
turns a workload's declared hyperparameters into Optuna distributions and back into exact values;
`study` opens the study in the results directory (Optuna's RDB storage, SQLite); `driver` runs the
ask / evaluate / tell loop against any evaluator (the engine's, or a simulated surface).
"""

from hyperwatt.search.driver import SearchDriver, SearchOutcome, TrialRequest, TrialResult
from hyperwatt.search.objectives import ENERGY_QUANTITIES, Constraint, Objective, parse_constraints, parse_objectives

__all__ = [
    "ENERGY_QUANTITIES", "Constraint", "Objective", "SearchDriver", "SearchOutcome", "TrialRequest", "TrialResult",
    "parse_constraints", "parse_objectives",
]
