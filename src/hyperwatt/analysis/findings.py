"""The study's answers from any set of records: correlation, greener settings, parallel sensitivity,
energy to target and carbon, with provenance; as plain-language verdicts and as findings.json.

The schema of findings.json is documented in docs/findings.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hyperwatt import __version__
from hyperwatt.analysis.carbon import CarbonFactors, resolve
from hyperwatt.analysis.correlation import ALPHA, HyperparameterFinding, adjust, group_tests
from hyperwatt.analysis.energy_to_target import EnergyToTarget, energy_to_target
from hyperwatt.analysis.goals import GoalLookup
from hyperwatt.analysis.greener import (
    DEFAULT_SAVING, DEFAULT_TOLERANCE, GreenerFinding, Interval, SettingResult, greener,
)
from hyperwatt.analysis.rows import DefaultsLookup, MetricOrder, RowGroup, finding_groups
from hyperwatt.analysis.sensitivity import Elasticity, SensitivityFinding, sensitivity
from hyperwatt.records import ExperimentRecord

SCHEMA = "hyperwatt.findings/1"
DEFINITIONS = {
    "rows": "valid trainings (status succeeded, no error flag) whose energy was measured (not partial)",
    "target": "the group's energy quantity (foreground GPU energy, J; see energy_quantity), from "
              "hyperwatt.analysis.quantities.primary_energy",
    "missing_value": "a hyperparameter absent from a record takes the workload's declared default (else the "
                     "value its unmutated runs used)",
    "constant": "a hyperparameter constant within a group is not tested",
    "isolated": "rows whose every other varying hyperparameter is at the group's reference (default) value",
    "q": "Benjamini–Hochberg adjusted p over every correlation test of the report (both scopes, all groups)",
}


@dataclass(frozen=True)
class FindingsOptions:
    saving: float = DEFAULT_SAVING
    tolerance: float = DEFAULT_TOLERANCE
    split_methods: bool = False
    #: metric -> target value for energy to target
    targets: dict[str, float] = field(default_factory=dict)
    carbon: CarbonFactors = field(default_factory=resolve)


@dataclass
class GroupFindings:
    group: RowGroup
    correlations: list[HyperparameterFinding]
    greener: GreenerFinding
    to_target: EnergyToTarget

    @property
    def mixed_methods(self) -> bool:
        return len(self.group.methods) > 1


@dataclass
class Findings:
    groups: list[GroupFindings]
    sensitivity: SensitivityFinding
    options: FindingsOptions
    experiments: int
    excluded: int

    @property
    def methods(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for g in self.groups:
            out.update(g.group.methods)
        return out

    @property
    def mixed_methods(self) -> bool:
        return len(self.methods) > 1

    def verdicts(self) -> dict[str, str]:
        return {"correlation": self._correlation_text(), "greener": self._greener_text(),
                "sensitivity": self._sensitivity_text(), "energy_to_target": self._target_text(),
                "provenance": self._provenance_text()}

    def _correlation_text(self) -> str:
        tested = [(g, f) for g in self.groups for f in g.correlations if f.direction != "untested"]
        if not tested:
            return "No hyperparameter could be tested: no group has a hyperparameter that varies over at least 3 rows."
        by_hp: dict[str, Counter[str]] = {}
        for _, f in tested:
            by_hp.setdefault(f.hyperparameter, Counter())[f.direction] += 1
        parts = []
        for hp, c in sorted(by_hp.items(), key=lambda kv: (-(kv[1]["increases"] + kv[1]["decreases"]), kv[0])):
            n = sum(c.values())
            if c["increases"] or c["decreases"]:
                bits = [f"more energy in {c['increases']}" if c["increases"] else "",
                        f"less energy in {c['decreases']}" if c["decreases"] else ""]
                parts.append(f"higher {hp} goes with {' and '.join(b for b in bits if b)} of {n} group(s)")
        confounded = sorted({f.hyperparameter for _, f in tested if f.flags})
        head = (f"Over {len(self.groups)} workload × mode group(s), {len(tested)} hyperparameter test(s) were made "
                f"(Spearman's ρ of energy over rows, Benjamini–Hochberg q < {ALPHA}). ")
        body = ("; ".join(parts) + ". ") if parts else "No hyperparameter correlates significantly with energy. "
        tail = f"Confounded designs flagged for: {', '.join(confounded)}." if confounded else ""
        return (head + body[0].upper() + body[1:] + tail).strip()

    def _greener_text(self) -> str:
        with_base = [g for g in self.groups if g.greener.baseline is not None]
        s, t = self.options.saving, self.options.tolerance
        if not with_base:
            return (f"No group has a measured default setting, so no setting can be judged greener "
                    f"(≥ {s:.0%} less energy with the primary metric within {t:.0%}).")
        hits = [g for g in with_base if g.greener.candidates]
        text = (f"In {len(hits)} of {len(with_base)} group(s) with a measured default, at least one setting uses "
                f"≥ {s:.0%} less energy with its primary metric within {t:.0%} of the default's")
        if hits:
            best = max(hits, key=lambda g: g.greener.candidates[0].saving or 0.0)
            c = best.greener.candidates[0]
            text += (f"; the largest saving is {best.group.key.title}: {c.name}, {c.saving:.0%} less energy, "
                     f"{best.greener.metric} {_pct(c.metric_change)}")
            weak = sum(1 for g in hits for x in g.greener.candidates if x.weak)
            total = sum(len(g.greener.candidates) for g in hits)
            if weak:
                text += f". {weak} of {total} qualifying setting(s) rest on weak evidence (see each group)"
        no_metric = sum(1 for g in with_base if g.greener.metric is None)
        if no_metric:
            text += f". {no_metric} group(s) report no metric with a known goal, so loss cannot be judged there"
        return text + "."

    def _sensitivity_text(self) -> str:
        return f"{self.sensitivity.verdict[0].upper()}{self.sensitivity.verdict[1:]}. Measured as " \
               f"{self.sensitivity.measured_as}."

    def _target_text(self) -> str:
        have = [g for g in self.groups if g.to_target.curves]
        if not have:
            return ("No training reported per-epoch metrics together with per-epoch energy (phase markers with "
                    "epochs, or epoch records with their time), so energy to a target cannot be given.")
        reached = sum(1 for g in have for c in g.to_target.curves if c.reached_j is not None)
        runs = sum(len(g.to_target.curves) for g in have)
        return (f"{len(have)} group(s) have per-epoch metrics with per-epoch energy; {reached} of {runs} run(s) "
                f"reached their group's target (see each group for the target and the energy to reach it).")

    def _provenance_text(self) -> str:
        methods = self.methods
        if not methods:
            return "No energy figure."
        listed = ", ".join(f"{m} ({n} rows)" for m, n in methods.most_common())
        if len(methods) == 1:
            return f"Every energy figure rests on one method: {listed}."
        mixed = [g.group.key.title for g in self.groups if g.mixed_methods]
        text = f"This report mixes energy methods: {listed}."
        if mixed:
            text += (f" {len(mixed)} group(s) combine rows of different methods ({', '.join(mixed[:5])}"
                     f"{' …' if len(mixed) > 5 else ''}); rerun with --split-methods to analyse each method apart.")
        return text

    def to_json(self, sources: dict[str, Any] | None = None) -> dict[str, Any]:
        o = self.options
        return json_safe({
            "schema": SCHEMA,
            "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "hyperwatt_version": __version__,
            "sources": {**(sources or {}), "experiments": self.experiments, "excluded": self.excluded,
                        "rows": sum(len(g.group.rows) for g in self.groups)},
            "definitions": DEFINITIONS,
            "parameters": {"saving": o.saving, "tolerance": o.tolerance, "alpha": ALPHA,
                           "split_methods": o.split_methods, "targets": o.targets},
            "provenance": {"methods": dict(self.methods.most_common()), "mixed": self.mixed_methods},
            "verdicts": self.verdicts(),
            "groups": [_group_json(g, o.carbon) for g in self.groups],
            "sensitivity": _sensitivity_json(self.sensitivity),
            "carbon": {"intensity_g_per_kwh": o.carbon.intensity_g_per_kwh,
                       "intensity_source": o.carbon.intensity_source, "pue": o.carbon.pue,
                       "pue_source": o.carbon.pue_source,
                       "total_energy_j": sum(r.energy_j for g in self.groups for r in g.group.rows),
                       "total_g_co2e": sum(o.carbon.grams(r.energy_j) for g in self.groups for r in g.group.rows)},
        })


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:+.2f}%".replace("-", "−")


def findings(records: Sequence[ExperimentRecord], defaults: DefaultsLookup, goals: GoalLookup,
             options: FindingsOptions | None = None, results_dir: Path | None = None,
             metric_order: MetricOrder | None = None) -> Findings:
    """Every answer over `records` (failed and invalid ones excluded); `metric_order` breaks ties of the
    primary metric by each workload's declared order."""
    o = options or FindingsOptions()
    groups = finding_groups(records, defaults, o.split_methods)
    tests = adjust([group_tests(g) for g in groups])
    out = []
    for g, corr in zip(groups, tests, strict=True):
        green = greener(g, goals, o.saving, o.tolerance, order=metric_order)
        setting_of = {eid: s.name for s in green.settings for eid in s.experiment_ids}
        to_target = energy_to_target(g, results_dir, goals, setting_of, green.metric, o.tolerance, o.targets)
        out.append(GroupFindings(g, corr, green, to_target))
    excluded = sum(1 for r in records if not r.valid)
    return Findings(out, sensitivity(groups), o, len(records), excluded)


# JSON -------------------------------------------------------------------------------------------------
def json_safe(x: Any) -> Any:
    """Non-finite floats to None (JSON has no NaN), recursively."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def _interval(i: Interval | None, unit: str = "") -> dict[str, Any] | None:
    if i is None:
        return None
    return {"n": i.n, "mean": i.mean, "ci95": None if i.low is None else [i.low, i.high], **({"unit": unit} if unit else {})}


def _setting_json(s: SettingResult, carbon: CarbonFactors) -> dict[str, Any]:
    return {
        "name": s.name, "hyperparameters": s.hyperparameters, "experiments": list(s.experiment_ids),
        "energy_j": _interval(s.energy), "metric": _interval(s.metric), "baseline": s.is_baseline,
        "saving": s.saving, "saving_ci95": None if s.saving_low is None else [s.saving_low, s.saving_high],
        "metric_change": s.metric_change, "qualifies": s.qualifies, "pareto": s.on_front, "weak_evidence": list(s.weak),
        "g_co2e": carbon.grams(s.energy.mean),
    }


def _group_json(g: GroupFindings, carbon: CarbonFactors) -> dict[str, Any]:
    grp, gr, tt = g.group, g.greener, g.to_target
    flags = []
    if len(grp.backgrounds) > 1:
        flags.append(f"backgrounds differ within the group: {', '.join(grp.backgrounds)}")
    if g.mixed_methods:
        flags.append("rows of different energy methods are combined: " + ", ".join(sorted(grp.methods)))
    return {
        "workload": grp.key.workload, "mode": grp.key.mode, "method_split": grp.key.method,
        "energy_quantity": f"{grp.energy.label} ({grp.energy.unit})", "energy_key": grp.energy.key,
        "energy_methods": dict(grp.methods.most_common()), "backgrounds": grp.backgrounds,
        "n_rows": len(grp.rows), "rows": [r.id for r in grp.rows], "dropped": dict(grp.dropped),
        "varying": grp.varying, "reference": grp.reference, "flags": flags,
        "correlation": [{
            "hyperparameter": f.hyperparameter, "verdict": f.verdict, "direction": f.direction, "flags": list(f.flags),
            "tests": [{"scope": t.scope, "n": t.n, "distinct_values": t.distinct_values, "rho": t.rho, "p": t.p,
                       "q": t.q, "sign": t.sign if t.tested else None, "significant": t.significant,
                       "reason": t.reason} for t in f.tests],
        } for f in g.correlations],
        "greener": {
            "metric": gr.metric, "goal": gr.goal, "saving": gr.saving, "tolerance": gr.tolerance,
            "verdict": gr.verdict, "notes": gr.notes,
            "baseline": None if gr.baseline is None else _setting_json(gr.baseline, carbon),
            "candidates": [c.name for c in gr.candidates],
            "pareto_front": [s.name for s in gr.settings if s.on_front],
            "settings": [_setting_json(s, carbon) for s in gr.settings],
        },
        "energy_to_target": {
            "metric": tt.metric, "goal": tt.goal, "target": tt.target, "target_source": tt.target_source,
            "sources": tt.sources, "missing": tt.missing,
            "runs": [{"experiment": c.experiment_id, "setting": c.setting, "reached_j": c.reached_j,
                      "reached_epoch": c.reached_epoch,
                      "epochs": [{"epoch": p.epoch, "cumulative_j": p.cumulative_j, "epoch_j": p.epoch_j,
                                  "metrics": p.metrics} for p in c.epochs]} for c in tt.curves],
        },
    }


def _elasticity_json(e: Elasticity | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"n": e.n, "slope": e.slope, "ci95": [e.low, e.high], "se": e.se, "model": e.model}


def _sensitivity_json(s: SensitivityFinding) -> dict[str, Any]:
    return {
        "measured_as": s.measured_as, "summary": s.summary(), "verdict": s.verdict,
        "pairs": [{"workload": p.workload, "hyperparameter": p.hyperparameter, "scale": p.scale,
                   "sequential": _elasticity_json(p.sequential), "parallel": _elasticity_json(p.parallel),
                   "more_sensitive": p.more_sensitive, "interaction_p": p.p, "interaction_q": p.q,
                   "significant": p.significant, "reason": p.reason} for p in s.pairs],
        "spread": [{"workload": x.workload, "mode": x.mode, "n": x.n, "mean_j": x.mean_j, "cv": x.cv,
                    "sd_log": x.sd_log} for x in s.spreads],
    }
