"""Expand a plan into concrete experiments: fixed values, seeded mutations, repeats, canonical keys."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Mapping

from hyperwatt.config import ExperimentSpec, LoadedPlan, TimingPolicy, Workload
from hyperwatt.config.plan import Mode
from hyperwatt.space import Value, cardinality, literal, sample

#: Draws per wanted mutation before the space counts as exhausted.
MAX_DRAWS_PER_MUTATION = 200


@dataclass(frozen=True)
class Setting:
    """A workload with every hyperparameter value resolved (defaults included)."""

    workload: Workload
    values: dict[str, Value]
    #: Names given on the command line (all of `values` when the workload passes defaults).
    passed: tuple[str, ...]

    def typed(self) -> dict[str, object]:
        return {k: v.typed for k, v in self.values.items()}

    def args(self) -> dict[str, str]:
        return {k: self.values[k].text for k in self.passed}


@dataclass(frozen=True)
class PlannedExperiment:
    slot: int
    spec_index: int
    label: str
    mode: Mode
    foreground: Setting
    background: Setting | None
    mutated: tuple[str, ...]
    repeat_index: int
    timing: TimingPolicy
    key: str
    key_hash: str

    @property
    def workload(self) -> Workload:
        return self.foreground.workload


@dataclass
class Expansion:
    experiments: list[PlannedExperiment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def canonical_key(mode: Mode, fg: Setting, bg: Setting | None) -> str:
    """Typed, order-free identity of an experiment: same key = same training under same conditions."""

    def side(s: Setting) -> dict[str, object]:
        hp = {k: [s.workload.hyperparameters[k].type, _canon(v.typed)] for k, v in sorted(s.values.items())}
        return {"workload": s.workload.name, "hyperparameters": hp}

    payload = {"mode": mode, "foreground": side(fg), "background": side(bg) if bg else None}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _canon(value: object) -> object:
    return repr(value) if isinstance(value, float) else value


def resolve(workload: Workload, fixed: Mapping[str, object], mutated: Mapping[str, Value] = {}) -> Setting:
    values: dict[str, Value] = {}
    explicit: list[str] = []
    for name, param in workload.hyperparameters.items():
        if name in mutated:
            values[name] = mutated[name]
            explicit.append(name)
        elif name in fixed:
            values[name] = literal(param, fixed[name])  # type: ignore[arg-type]
            explicit.append(name)
        elif param.default is not None:
            values[name] = literal(param, param.default)
    # a positional argument is always passed: leaving one out would shift the ones after it
    passed = tuple(n for n in values if workload.pass_defaults or n in explicit
                   or workload.hyperparameters[n].positional)
    return Setting(workload, values, passed)


def expand(loaded: LoadedPlan) -> Expansion:
    """Every experiment the plan asks for, in order; identical inputs give identical output."""
    out = Expansion()
    plan = loaded.plan
    for index, spec in enumerate(plan.experiments):
        if spec.search is not None:  # its trials are asked of the search while the session runs
            continue
        fg_workload = loaded.registry.get(spec.workload)
        background = None
        if spec.background is not None:
            bg_workload = loaded.registry.get(spec.background.workload)
            background = resolve(bg_workload, spec.background.hyperparameters)
        base = resolve(fg_workload, spec.hyperparameters)
        configs: list[tuple[str, Setting, tuple[str, ...]]] = []
        if spec.include_default or spec.mutate is None:
            configs.append(("default" if spec.mutate else "fixed", base, ()))
        if spec.mutate is not None:
            rng = random.Random(_spec_seed(plan.seed, index, spec))
            configs += _mutations(spec, fg_workload, base, rng, out.warnings, index)
        timing = plan.timing_for(spec)
        keyed = [(label, s, m, canonical_key(spec.mode, s, background)) for label, s, m in configs]
        for r in range(spec.repeats):  # repeats interleave, so slow drift spreads over all settings
            for label, setting, mutated, key in keyed:
                out.experiments.append(PlannedExperiment(
                    slot=len(out.experiments), spec_index=index, label=label, mode=spec.mode,
                    foreground=setting, background=background, mutated=mutated, repeat_index=r,
                    timing=timing, key=key, key_hash=key_hash(key),
                ))
    return out


def occurrence_indices(experiments: list[PlannedExperiment]) -> list[int]:
    """For each planned experiment, how many earlier ones in the plan have its key. The store must
    hold more succeeded runs of a key than that for the experiment to be skipped: two identical
    entries ask for the setting twice, as `repeats = 2` does (each entry's own repeat index would
    skip both when the store holds one run)."""
    seen: dict[str, int] = {}
    out = []
    for pe in experiments:
        out.append(seen.get(pe.key_hash, 0))
        seen[pe.key_hash] = out[-1] + 1
    return out


def _spec_seed(plan_seed: int, index: int, spec: ExperimentSpec) -> int:
    text = json.dumps([plan_seed, index, spec.workload, spec.mode, spec.mutate.model_dump() if spec.mutate else None])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _mutations(spec: ExperimentSpec, workload: Workload, base: Setting, rng: random.Random,
               warnings: list[str], index: int) -> list[tuple[str, Setting, tuple[str, ...]]]:
    assert spec.mutate is not None
    params = spec.mutate.parameters
    n = spec.mutate.mutations
    groups = [[p] for p in params] if spec.mutate.strategy == "one_at_a_time" else [params]
    seen = {canonical_key(spec.mode, base, None)}  # the default set is excluded
    out = []
    for group in groups:
        made = 0
        for _ in range(n * MAX_DRAWS_PER_MUTATION):
            if made == n:
                break
            drawn = {p: sample(workload.hyperparameters[p], rng) for p in group}
            setting = resolve(workload, spec.hyperparameters, drawn)
            key = canonical_key(spec.mode, setting, None)
            if key in seen:
                continue
            seen.add(key)
            made += 1
            out.append((f"mutate {'+'.join(group)} #{made}", setting, tuple(group)))
        if made < n:
            space = 1.0
            for p in group:
                space *= cardinality(workload.hyperparameters[p])
            warnings.append(
                f"experiments[{index}]: only {made} distinct mutations of {'+'.join(group)} exist "
                f"apart from the defaults (asked for {n}; about {space:g} values in the space)"
            )
    return out
