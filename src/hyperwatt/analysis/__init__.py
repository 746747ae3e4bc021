"""Statistics, energy/performance trade-offs, plots and the HTML report. Reads records; runs nothing."""

from hyperwatt.analysis.analyse import Analysis, GroupAnalysis, analyse
from hyperwatt.analysis.effects import (
    Correlation, Delta, HyperparameterChange, SettingChange, changes_vs_reference, correlations, delta,
)
from hyperwatt.analysis.goals import Goal, GoalLookup, heuristic_goal, percent_scale, registry_goals
from hyperwatt.analysis.pareto import ParetoFront, ParetoPoint, dominance, joint_front, pareto_front, pareto_mask
from hyperwatt.analysis.quantities import ENERGIES, Quantity, measure, metric_quantity, primary_energy
from hyperwatt.analysis.settings import GroupKey, by_group, by_setting, group_key, reference_key
from hyperwatt.analysis.stats import SettingStats, Summary, setting_stats, summarize
from hyperwatt.analysis.validity import Exclusion, Validity, split_valid

__all__ = [
    "Analysis", "Correlation", "Delta", "ENERGIES", "Exclusion", "Goal", "GoalLookup", "GroupAnalysis", "GroupKey",
    "HyperparameterChange", "ParetoFront", "ParetoPoint", "Quantity", "SettingChange", "SettingStats", "Summary",
    "Validity", "analyse", "by_group", "by_setting", "changes_vs_reference", "correlations", "delta", "dominance",
    "group_key", "heuristic_goal", "joint_front", "measure", "metric_quantity", "pareto_front", "pareto_mask",
    "percent_scale", "primary_energy", "reference_key", "registry_goals", "setting_stats", "split_valid",
    "summarize",
]
