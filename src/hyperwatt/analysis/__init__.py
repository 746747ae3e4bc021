"""Statistics, energy/performance trade-offs, plots and the HTML report. Reads records; runs nothing."""

from hyperwatt.analysis.analyse import Analysis, GroupAnalysis, analyse
from hyperwatt.analysis.carbon import CarbonFactors
from hyperwatt.analysis.command import FindingsArgs, report_command
from hyperwatt.analysis.compare import Comparison
from hyperwatt.analysis.effects import (
    Correlation, Delta, HyperparameterChange, SettingChange, changes_vs_reference, correlations, delta,
)
from hyperwatt.analysis.findings import Findings, FindingsOptions
from hyperwatt.analysis.goals import Goal, GoalLookup, heuristic_goal, percent_scale, registry_goals
from hyperwatt.analysis.pareto import ParetoFront, ParetoPoint, dominance, joint_front, pareto_front, pareto_mask
from hyperwatt.analysis.plots import Plot, attribution_bars, energy_vs_metric, hyperparameter_panels, power_timeline
from hyperwatt.analysis.quantities import ENERGIES, Quantity, measure, metric_quantity, primary_energy
from hyperwatt.analysis.report import ReportInputs, render_report, write_report
from hyperwatt.analysis.settings import GroupKey, by_group, by_setting, group_key, reference_key
from hyperwatt.analysis.stats import SettingStats, Summary, setting_stats, summarize
from hyperwatt.analysis.summary import summary_text
from hyperwatt.analysis.timeline import read_timeline, timeline_path
from hyperwatt.analysis.validity import Exclusion, Validity, split_valid

__all__ = [
    "CarbonFactors", "Comparison", "Findings", "FindingsArgs", "FindingsOptions",
    "Analysis", "Correlation", "Delta", "ENERGIES", "Exclusion", "Goal", "GoalLookup", "GroupAnalysis", "GroupKey",
    "HyperparameterChange", "ParetoFront", "ParetoPoint", "Plot", "Quantity", "ReportInputs", "SettingChange",
    "SettingStats", "Summary", "Validity", "analyse", "attribution_bars", "by_group", "by_setting",
    "changes_vs_reference", "correlations", "delta", "dominance", "energy_vs_metric", "group_key",
    "heuristic_goal", "hyperparameter_panels", "joint_front", "measure", "metric_quantity", "pareto_front",
    "pareto_mask", "percent_scale", "power_timeline", "primary_energy", "read_timeline", "reference_key",
    "registry_goals", "render_report", "report_command", "setting_stats", "split_valid", "summarize",
    "summary_text", "timeline_path", "write_report",
]
