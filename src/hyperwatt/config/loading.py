"""Load a plan (TOML, or the seed's settings JSON) and check it against the workload registry."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import tomli_w
from pydantic import ValidationError

from hyperwatt.config.errors import all_from_validation, suggest
from hyperwatt.config.files import read_json, read_toml
from hyperwatt.config.legacy import rename_keys, workloads_from_models_config
from hyperwatt.config.plan import CONSTRAINT, ENERGY_QUANTITIES, ExperimentSpec, Plan
from hyperwatt.config.registry import Registry
from hyperwatt.config.workload import Scalar, Workload, check_allowed
from hyperwatt.errors import ConfigError, ConfigProblems


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan with the registry it was checked against."""

    plan: Plan
    registry: Registry
    source: Path
    #: what loading a seed settings file ignored, skipped or reinterpreted, grouped by cause
    notes: tuple[str, ...] = ()
    #: a seed settings file's `historical_csvs` (use_deduplication), resolved; `missing` not found
    historical_csvs: tuple[Path, ...] = ()
    missing_csvs: tuple[str, ...] = ()

    @property
    def workloads(self) -> list[Workload]:
        """Every workload the plan uses, foreground and background, in first-use order."""
        names: list[str] = []
        for spec in self.plan.experiments:
            for name in (spec.workload, spec.background.workload if spec.background else None):
                if name and self.registry.canonical(name) not in names:
                    names.append(self.registry.canonical(name))
        return [self.registry.get(n) for n in names]

    def resolved_toml(self) -> str:
        """The plan as run: every policy explicit, user workloads inlined (built-ins by name)."""
        data = self.plan.model_dump(mode="json", exclude_none=True)
        user = {w.name: _workload_table(w) for w in self.workloads if w.source != "builtin"}
        if user:
            data["workloads"] = user
        return tomli_w.dumps(data)

    @property
    def plan_hash(self) -> str:
        """The plan's identity (for --resume): its settings that differ from the defaults, so a key
        spelled out at its default, or a new optional key in a later hyperwatt, changes nothing."""
        payload = {
            "plan": self.plan.model_dump(mode="json", exclude_defaults=True),
            "workloads": [w.model_dump(mode="json", exclude={"source"}, exclude_defaults=True)
                          for w in self.workloads],
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _workload_table(w: Workload) -> dict[str, Any]:
    return w.model_dump(mode="json", exclude={"name", "source"}, exclude_none=True)


def load_registry(workload_files: Iterable[Path] = ()) -> Registry:
    """Built-ins plus the given workloads files (TOML, or the seed's models_config.json), in order."""
    registry = Registry.builtin()
    for path in map(Path, workload_files):
        if path.suffix.lower() == ".json":
            registry.add_workloads(workloads_from_models_config(path), path)
        else:
            registry.add_file(path)
    return registry


def load_plan(path: Path, registry: Registry | None = None, strict: bool = False,
              seed_compat: str | None = None) -> LoadedPlan:
    """Parse, validate and check a plan file; every problem is reported at once, each a one-line
    ConfigError (a seed settings file: its first, in its own key names). A seed
    settings file's notes (what it ignored, skipped or reinterpreted) are the error under `strict`;
    `seed_compat` ("faithful" | "intended") overrides the plan's own."""
    path = Path(path)
    registry = registry if registry is not None else Registry.builtin()
    if seed_compat is not None and seed_compat not in ("faithful", "intended"):
        raise ConfigError(None, "--seed-compat", f"must be faithful or intended, got {seed_compat!r}")
    seed_keys: dict[str, str] = {}  # a seed settings file: its own name for each key of the plan
    notes: list[str] = []
    csvs: tuple[list[Path], list[str]] = ([], [])
    if path.suffix.lower() == ".json":
        data, seed_keys, notes, csvs = _seed_settings(path, registry, strict, seed_compat)
    else:
        data = read_toml(path)
        if isinstance(data, dict) and set(data) == {"workloads"}:  # a -W file given as the plan
            raise ConfigError(path, "experiments", "required key is missing: this file holds only [workloads] "
                              "tables; pass it with -W/--workloads, beside a plan that has [[experiments]]")
        registry.add_tables(data.pop("workloads", {}), path)
        if seed_compat is not None and isinstance(data, dict):
            data["seed_compat"] = seed_compat
    data.setdefault("name", _safe_stem(path))
    _inherit_timing(data)
    problems: list[ConfigError] = []
    plan: Plan | None = None
    try:
        plan = Plan(**data)
    except ValidationError as err:
        problems = all_from_validation(err, Plan, path)
        problems += _entry_problems(data, err, registry, path)
        problems.sort(key=_entry_index)
    except TypeError as err:
        problems = [ConfigError(path, None, str(err))]
    if plan is not None:
        if plan.seed_compat == "intended":
            _exact_floats(plan, registry)
        problems = plan_problems(plan, registry, path)
    if problems and seed_keys:  # the seed's settings JSON: its first problem, in its own key names
        raise rename_keys(problems[0], seed_keys) from None
    ConfigProblems.raise_if_any(problems)
    assert plan is not None
    return LoadedPlan(plan=plan, registry=registry, source=path, notes=tuple(notes),
                      historical_csvs=tuple(csvs[0]), missing_csvs=tuple(csvs[1]))


def _seed_settings(path: Path, registry: Registry, strict: bool, seed_compat: str | None
                   ) -> tuple[dict[str, Any], dict[str, str], list[str], tuple[list[Path], list[str]]]:
    """A seed settings file as plan data: all its problems in one error, nothing runnable an error,
    its notes an error under `strict`."""
    from hyperwatt.config.seed_settings import translate

    duplicates: list[str] = []
    seed = translate(read_json(path, duplicates), path, registry, seed_compat, duplicates)  # type: ignore[arg-type]
    if seed.errors:
        first, rest = seed.errors[0], seed.errors[1:]
        more = "" if not rest else f" (and {len(rest)} more: " + "; ".join(
            f"{e.key}: {e.reason}" if e.key else e.reason for e in rest) + ")"
        raise ConfigError(path, first.key, first.reason + more)
    notes = seed.notes.lines()
    if not seed.data["experiments"]:
        why = sorted(notes, key=lambda n: "skipped" not in n)  # the skips first: they are the reason
        raise ConfigError(path, None, f"nothing to run: the seed's runner would start no training from its "
                          f"{seed.entries} entr{'y' if seed.entries == 1 else 'ies'}: {' | '.join(why)}")
    found, missing = _history_files(path, seed.historical_csvs)
    if missing:
        notes.append("use_deduplication: historical CSVs not found beside the settings file or in its parent "
                     f"folders ({', '.join(missing)}); `hyperwatt run` refuses until they are imported or found")
    if strict and notes:
        raise ConfigError(path, None, f"--strict: the seed's file needs {len(notes)} reinterpretation(s): "
                          + " | ".join(notes))
    return seed.data, seed.keys, notes, (found, missing)


def _history_files(settings: Path, names: list[str]) -> tuple[list[Path], list[str]]:
    """The seed resolved `historical_csvs` against its repository root: the settings file's folder
    or one of its parents."""
    found, missing = [], []
    folders = [settings.resolve().parent, *settings.resolve().parent.parents]
    for name in names:
        hit = next((f / name for f in folders if (f / name).is_file()), None)
        if hit is None:
            missing.append(name)
        elif hit not in found:
            found.append(hit)
    return found, missing


def _exact_floats(plan: Plan, registry: Registry) -> None:
    """seed_compat = "intended": the plan's seed workloads pass floats exactly, not as "%.6f"."""
    names = {spec.workload for spec in plan.experiments}
    names |= {spec.background.workload for spec in plan.experiments if spec.background}
    for name in names:
        if name not in registry:
            continue
        workload = registry.get(name)
        if any(p.decimals is not None for p in workload.hyperparameters.values()):
            params = {k: p.model_copy(update={"decimals": None}) for k, p in workload.hyperparameters.items()}
            registry.replace(workload.model_copy(update={"hyperparameters": params}))


def _entry_index(problem: ConfigError) -> int:
    """Which plan entry a problem is in (-1: the plan's own keys), to report them in file order."""
    match = re.match(r"experiments\[(\d+)\]", problem.key or "")
    return int(match.group(1)) if match else -1


def _entry_problems(data: dict[str, Any], err: ValidationError, registry: Registry, source: Path) -> list[ConfigError]:
    """The registry's problems of a plan that failed validation, checked on what remains of each entry
    once its invalid keys are left out: a typo in one key hides nothing else of the plan."""
    entries = data.get("experiments")
    if not isinstance(entries, list):
        return []
    bad: dict[int, set[str]] = {}
    for e in err.errors():
        loc = e["loc"]
        if len(loc) >= 3 and loc[0] == "experiments" and isinstance(loc[1], int) and isinstance(loc[2], str):
            bad.setdefault(loc[1], set()).add(loc[2])
    out: list[ConfigError] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        try:
            spec = ExperimentSpec(**{k: v for k, v in entry.items() if k not in bad.get(i, ())})
        except (ValidationError, TypeError):
            continue
        out += spec_problems(spec, registry, source, f"experiments[{i}]")
    return out


def _safe_stem(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).strip(".")[:100] or "plan"


def _inherit_timing(data: dict[str, Any]) -> None:
    """Each experiment's timing = the plan's timing overridden key by key (cooldown one level deeper)."""
    base = data.get("timing")
    experiments = data.get("experiments")
    if not isinstance(base, dict) or not isinstance(experiments, list):
        return
    for exp in experiments:
        if isinstance(exp, dict) and isinstance(exp.get("timing"), dict):
            own = exp["timing"]
            merged = {**base, **own}
            if isinstance(base.get("cooldown"), dict) and isinstance(own.get("cooldown"), dict):
                merged["cooldown"] = {**base["cooldown"], **own["cooldown"]}
            exp["timing"] = merged


#: Most experiments one plan may expand to: beyond, a typo in `repeats` or `mutations` (or their
#: product) would plan years of training and take minutes and gigabytes to expand.
MAX_PLANNED_EXPERIMENTS = 100_000


def planned_count(spec: ExperimentSpec) -> int:
    """The most experiments an entry expands to (fewer when a mutation space runs out); a search's
    trials count too."""
    if spec.search is not None:
        return spec.search.trials
    settings = 1 if spec.include_default or spec.mutate is None else 0
    if spec.mutate is not None:
        groups = len(spec.mutate.parameters) if spec.mutate.strategy == "one_at_a_time" else 1
        settings += groups * spec.mutate.mutations
    return settings * spec.repeats


def check_plan(plan: Plan, registry: Registry, source: Path) -> None:
    """Raise every problem `plan_problems` finds, at once."""
    ConfigProblems.raise_if_any(plan_problems(plan, registry, source))


def plan_problems(plan: Plan, registry: Registry, source: Path) -> list[ConfigError]:
    """Workloads exist; fixed values fit their types and declared values; mutated parameters exist and
    can mutate; names are unique; the plan expands to at most MAX_PLANNED_EXPERIMENTS experiments."""
    labels: set[str] = set()
    total = 0
    out: list[ConfigError] = []
    for i, spec in enumerate(plan.experiments):
        key = f"experiments[{i}]"
        count = planned_count(spec)
        total += count
        if total > MAX_PLANNED_EXPERIMENTS:
            out.append(ConfigError(source, key, (
                f"the plan would expand to {total:,} experiments or more (this entry: up to {count:,}, "
                f"{spec.repeats:,} repeat(s) of each setting); hyperwatt plans at most "
                f"{MAX_PLANNED_EXPERIMENTS:,}: lower 'repeats' or 'mutations', or split the plan")))
            break
        out += spec_problems(spec, registry, source, key)
        if spec.name is not None:
            if spec.name in labels:
                out.append(ConfigError(source, f"{key}.name", f"duplicate experiment name {spec.name!r}; "
                                       "give each entry its own name"))
            labels.add(spec.name)
    return out


def spec_problems(spec: ExperimentSpec, registry: Registry, source: Path, key: str) -> list[ConfigError]:
    """One plan entry against the registry: its workloads, fixed values and mutated parameters."""
    out: list[ConfigError] = []
    try:
        workload = registry.get(spec.workload, source, f"{key}.workload")
    except ConfigError as err:
        out.append(err)
    else:
        out += value_problems(workload, spec.hyperparameters, source, f"{key}.hyperparameters")
        for j, name in enumerate(spec.mutate.parameters if spec.mutate is not None else []):
            param = workload.hyperparameters.get(name)
            pkey = f"{key}.mutate.parameters[{j}]"
            if param is None:
                out.append(ConfigError(source, pkey, _unknown_param(name, workload)))
            elif not param.mutable:
                what = (f"its values ({', '.join(map(str, param.values))}) are not drawn from: its distribution "
                        "is not \"choice\"" if param.values else "it has no range or values to mutate within")
                out.append(ConfigError(source, pkey, f"{name!r} cannot be mutated: {what}; fix it in "
                                       "'hyperparameters' instead"))
            elif name in spec.hyperparameters:
                out.append(ConfigError(source, pkey, f"{name!r} is both fixed and mutated; remove it from "
                                       "'hyperparameters' or from 'mutate.parameters'"))
        if spec.search is not None:
            out += search_problems(spec, workload, source, f"{key}.search")
    if spec.background is not None:
        try:
            bg = registry.get(spec.background.workload, source, f"{key}.background.workload")
        except ConfigError as err:
            out.append(err)
        else:
            out += value_problems(bg, spec.background.hyperparameters, source, f"{key}.background.hyperparameters")
    return out


def search_problems(spec: ExperimentSpec, workload: Workload, source: Path, key: str) -> list[ConfigError]:
    """Searched parameters exist, can vary and are not fixed; objectives and constraints name an
    energy quantity or a metric the workload declares."""
    search = spec.search
    assert search is not None
    out: list[ConfigError] = []
    for j, name in enumerate(search.parameters):
        param = workload.hyperparameters.get(name)
        pkey = f"{key}.parameters[{j}]"
        if param is None:
            out.append(ConfigError(source, pkey, _unknown_param(name, workload)))
        elif not param.mutable:
            out.append(ConfigError(source, pkey, f"{name!r} has no range or values to search within"))
        elif name in spec.hyperparameters:
            out.append(ConfigError(source, pkey, f"{name!r} is both fixed and searched"))
    metrics = workload.metrics
    known = [*ENERGY_QUANTITIES, *dict.fromkeys([*metrics.required, *metrics.patterns, *metrics.goals])]
    named = [(f"{key}.objectives[{j}]", o.split(":")[0]) for j, o in enumerate(search.objectives)]
    named += [(f"{key}.constraints[{j}]", CONSTRAINT.match(c).group(1))  # type: ignore[union-attr]
              for j, c in enumerate(search.constraints)]
    for pkey, name in named:
        if name not in known:
            out.append(ConfigError(source, pkey, f"unknown quantity {name!r}{suggest(name, known)}; an energy "
                                   f"quantity or a metric {workload.name} declares: {', '.join(known)}"))
    return out


def check_values(workload: Workload, values: dict[str, Scalar], source: Path, key: str) -> None:
    ConfigProblems.raise_if_any(value_problems(workload, values, source, key))


def value_problems(workload: Workload, values: dict[str, Scalar], source: Path, key: str) -> list[ConfigError]:
    """Each value's hyperparameter exists, and the value fits its type and its declared `values`."""
    out: list[ConfigError] = []
    for name, value in values.items():
        param = workload.hyperparameters.get(name)
        if param is None:
            out.append(ConfigError(source, f"{key}.{name}", _unknown_param(name, workload)))
            continue
        try:
            typed = check_allowed(param, value)
        except ValueError as exc:
            hint = "" if param.values is not None or param.default is None else f"; its default is {param.default!r}"
            out.append(ConfigError(source, f"{key}.{name}", f"{exc}{hint}"))
            continue
        if param.path is not None:
            where = Path(str(typed)).expanduser()
            where = where if where.is_absolute() else (workload.workdir or Path.cwd()) / where
            ok = where.is_dir() if param.path == "dir" else where.is_file()
            if not ok:
                what = "no such folder" if param.path == "dir" else "no such file"
                if where.exists():
                    what = "a file, not a folder" if param.path == "dir" else "a folder, not a file"
                out.append(ConfigError(source, f"{key}.{name}", f"{where}: {what}; give an existing "
                                       f"{'folder' if param.path == 'dir' else 'file'} (relative paths are from "
                                       f"{workload.workdir or 'the current folder'})"))
    return out


def _unknown_param(name: str, workload: Workload) -> str:
    known = list(workload.hyperparameters)
    return (f"{workload.name} has no hyperparameter {name!r}{suggest(name, known)}; "
            f"it has: {', '.join(known) or 'none'}")
