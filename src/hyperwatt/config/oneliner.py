"""A plan built from command-line words (`hyperwatt mutate -w repo/model -p lr -n 3`)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from pydantic import ValidationError

from hyperwatt.config.errors import from_validation
from hyperwatt.config.loading import LoadedPlan, check_plan
from hyperwatt.config.plan import Plan
from hyperwatt.config.registry import Registry
from hyperwatt.errors import ConfigError

SOURCE = Path("<command line>")


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(SOURCE, "--set", f"{item!r} is not NAME=VALUE")
        out[name.strip()] = value
    return out


def oneliner_plan(registry: Registry, workload: str, params: str, mutations: int, strategy: str,
                  fixed: Sequence[str], background: str | None, repeats: int, include_default: bool,
                  seed: int) -> LoadedPlan:
    names = [p.strip() for p in params.split(",") if p.strip()]
    target = registry.get(workload, SOURCE, "--workload")
    values = parse_assignments(fixed)
    if names == ["all"]:  # every mutable hyperparameter that --set does not fix
        names = [n for n, p in target.hyperparameters.items() if p.mutable and n not in values]
        if not names:
            raise ConfigError(SOURCE, "--params", f"{target.name} has no hyperparameter left to mutate")
    entry: dict[str, object] = {
        "workload": target.name, "repeats": repeats, "include_default": include_default,
        "hyperparameters": values,
        "mutate": {"parameters": names, "strategy": strategy, "mutations": mutations},
        "mode": "parallel" if background else "sequential",
    }
    if background:
        entry["background"] = {"workload": background}
    name = f"mutate_{target.repo}_{target.model}".replace("+", "_")
    try:
        plan = Plan.model_validate({"name": name, "seed": seed, "experiments": [entry]})
    except ValidationError as err:
        raise from_validation(err, Plan, SOURCE) from None
    check_plan(plan, registry, SOURCE)
    return LoadedPlan(plan=plan, registry=registry, source=SOURCE)
