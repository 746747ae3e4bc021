"""The whole analysis of a set of experiments: validity, per-group statistics, effects and fronts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from hyperwatt.analysis.effects import Correlation, SettingChange, changes_vs_reference, correlations
from hyperwatt.analysis.goals import Goal, GoalLookup, registry_goals
from hyperwatt.analysis.pareto import ParetoFront, joint_front, pareto_front
from hyperwatt.analysis.quantities import (
    DURATION, ENERGIES, TRAIN_DURATION, Quantity, measure, metric_names, metric_quantity, primary_energy, stated,
)
from hyperwatt.analysis.spread import RunSpread, run_spread
from hyperwatt.analysis.settings import GroupKey, by_group, reference_key, varying_hyperparameters
from hyperwatt.analysis.stats import SettingStats, setting_stats
from hyperwatt.analysis.validity import Validity, split_valid
from hyperwatt.records import ExperimentRecord


@dataclass
class GroupAnalysis:
    """One workload × mode (× background): its settings, effects and trade-offs, from valid runs only."""

    key: GroupKey
    records: list[ExperimentRecord]
    quantities: list[Quantity]
    energy: Quantity | None
    goals: dict[str, Goal | None]
    hyperparameters: list[str]
    settings: list[SettingStats]
    reference: SettingStats | None
    correlations: list[Correlation] = field(default_factory=list)
    changes: list[SettingChange] = field(default_factory=list)
    fronts: list[ParetoFront] = field(default_factory=list)
    joint_front: set[str] = field(default_factory=set)
    #: per quantity key: the run-to-run spread from the group's repeated settings (for settings run once)
    spreads: dict[str, RunSpread] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        return [q.metric for q in self.quantities if q.metric]

    @property
    def energies(self) -> list[Quantity]:
        return [q for q in self.quantities if q.kind == "energy"]

    @property
    def headline(self) -> list[Quantity]:
        """The quantities effects are phrased in: primary energy, duration, metrics."""
        return ([self.energy] if self.energy else []) + [q for q in self.quantities if q.kind != "energy"]


@dataclass
class Analysis:
    records: list[ExperimentRecord]
    validity: Validity
    groups: list[GroupAnalysis]

    @property
    def energy_measured(self) -> bool:
        return any(g.energy is not None for g in self.groups)


def analyse(records: Sequence[ExperimentRecord], goals: GoalLookup | None = None) -> Analysis:
    """Statistics, effects and Pareto fronts per group; failed and invalid experiments excluded."""
    lookup = goals or registry_goals()
    validity = split_valid(records)
    groups = [_group(key, runs, lookup) for key, runs in by_group(validity.valid).items()]
    return Analysis(records=list(records), validity=validity, groups=groups)


def _group(key: GroupKey, runs: list[ExperimentRecord], lookup: GoalLookup) -> GroupAnalysis:
    energies = [q for q in ENERGIES if any(measure(r, q)[0] is not None for r in runs)]
    metrics = metric_names(runs)
    durations = [DURATION] + [q for q in (TRAIN_DURATION,) if any(measure(r, q)[0] is not None for r in runs)]
    quantities = energies + durations + [metric_quantity(m) for m in metrics]
    ref_key = reference_key(runs)
    settings = setting_stats(key, runs, quantities, ref_key)
    reference = next((s for s in settings if s.is_reference), None)
    hps = varying_hyperparameters(runs)
    energy = primary_energy(key.mode, runs)
    goals = {m: lookup(key.workload, m) for m in metrics}
    g = GroupAnalysis(key=key, records=runs, quantities=quantities, energy=energy, goals=goals,
                      hyperparameters=hps, settings=settings, reference=reference)
    g.spreads = {q.key: sp for q in quantities if q.kind != "metric" and (sp := run_spread(settings, q)) is not None}
    ranked = [q for q in quantities if stated(q, runs)]  # never rank on an energy without a bound
    g.correlations = correlations(runs, hps, ranked)
    if reference is not None:
        g.changes = changes_vs_reference(settings, reference, ranked)
    if energy is not None:
        directed = {m: goal for m, goal in goals.items() if goal is not None}
        g.fronts = [pareto_front(settings, energy, m, goal) for m, goal in directed.items()]
        g.fronts = [f for f in g.fronts if f.points]
        if len(directed) > 1:
            g.joint_front = joint_front(settings, energy, directed)
    return g
