"""The seed system's JSON formats: `models_config.json` (workloads) and settings files (plans).

Both load as-is and translate into the same models as hyperwatt's TOML. Keys the seed used only
as notes are accepted and ignored; anything else unknown is an error with a suggestion.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hyperwatt.config.errors import from_validation, suggest
from hyperwatt.config.files import read_json
from hyperwatt.config.registry import Registry
from hyperwatt.config.workload import Workload
from hyperwatt.errors import ConfigError

_REPO_KEYS = {"path", "train_script", "models", "supported_hyperparams", "model_flag",
              "required_args", "performance_metrics", "description", "comment", "note"}
_PARAM_KEYS = {"flag", "type", "default", "range", "distribution", "zero_probability", "values",
               "description", "comment", "note"}
_NOTE_KEYS = {"description", "comment", "note", "notes", "version", "created", "updated", "author",
              "estimated_duration_hours", "estimated_experiments", "estimated_time", "target_completion",
              "purpose", "goal"}
_SETTINGS_KEYS = {"experiment_name", "mode", "runs_per_config", "max_retries", "governor", "experiments",
                  "use_deduplication", "historical_csvs", "seed", "random_seed"} | _NOTE_KEYS
_EXPERIMENT_KEYS = {"repo", "model", "mode", "mutate", "mutate_params", "hyperparameters", "runs_per_config",
                    "max_retries", "foreground", "background"} | _NOTE_KEYS
_SIDE_KEYS = {"repo", "model", "mode", "mutate", "mutate_params", "hyperparameters"} | _NOTE_KEYS
_GOVERNORS = {"performance", "powersave", "ondemand", "conservative", "schedutil", "userspace"}


def _check_keys(obj: Any, allowed: set[str], path: Path, key: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ConfigError(path, key or None, "must be a JSON object")
    for k in obj:
        if k not in allowed:
            raise ConfigError(path, f"{key}.{k}" if key else k,
                              f"unknown key{suggest(k, allowed)}")
    return obj


def workloads_from_models_config(path: Path) -> list[Workload]:
    """Each repo's models become `repo/model` workloads, run as `train_script [model_flag model]`."""
    data = _check_keys(read_json(path), {"models"} | _NOTE_KEYS, path, "")
    repos = data.get("models")
    if not isinstance(repos, dict) or not repos:
        raise ConfigError(path, "models", "must be an object of repositories")
    out = []
    for repo, rc in repos.items():
        rkey = f"models.{repo}"
        _check_keys(rc, _REPO_KEYS, path, rkey)
        for field in ("path", "train_script", "models"):
            if field not in rc:
                raise ConfigError(path, f"{rkey}.{field}", "required key is missing")
        models = rc["models"]
        if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
            raise ConfigError(path, f"{rkey}.models", "must be a non-empty list of model names")
        table = _workload_table(rc, path, rkey)
        for model in models:
            argv = [str(rc["train_script"])]
            if rc.get("model_flag"):
                argv += [str(rc["model_flag"]), model]
            argv += table["extra_args"]
            fields = {k: v for k, v in table.items() if k != "extra_args"}
            try:
                name = Registry.canonical(f"{repo}/{model}")
                out.append(Workload(name=name, argv=argv, source=str(path), **fields))
            except ValidationError as err:
                raise from_validation(err, Workload, path, rkey) from None
    return out


def _workload_table(rc: dict[str, Any], path: Path, rkey: str) -> dict[str, Any]:
    params = rc.get("supported_hyperparams", {})
    if not isinstance(params, dict):
        raise ConfigError(path, f"{rkey}.supported_hyperparams", "must be an object")
    hyper = {}
    for name, spec in params.items():
        _check_keys(spec, _PARAM_KEYS, path, f"{rkey}.supported_hyperparams.{name}")
        hyper[name] = {k: v for k, v in spec.items() if k not in ("description", "comment", "note")}
        hyper[name].setdefault("flag", f"--{name}")
    extra: list[str] = []
    required = rc.get("required_args", {})
    if not isinstance(required, dict):
        raise ConfigError(path, f"{rkey}.required_args", "must be an object of name -> arguments")
    for name, text in required.items():
        try:
            extra += shlex.split(str(text))
        except ValueError as exc:
            raise ConfigError(path, f"{rkey}.required_args.{name}", f"cannot split arguments: {exc}") from None
    patterns = (rc.get("performance_metrics") or {}).get("log_patterns", {})
    if not isinstance(patterns, dict):
        raise ConfigError(path, f"{rkey}.performance_metrics.log_patterns", "must be an object")
    return {
        "workdir": _resolve_repo_dir(path, str(rc["path"])),
        "hyperparameters": hyper,
        "metrics": {"patterns": {k: {"regex": v} for k, v in patterns.items()}},
        "pass_defaults": False,  # the seed let train.sh apply its own defaults
        "extra_args": extra,
    }


def _resolve_repo_dir(config: Path, repo_path: str) -> Path:
    """Relative to the config's folder, or to its parent (the seed kept it in `mutation/`)."""
    base = config.resolve().parent
    for root in (base, base.parent):
        candidate = (root / repo_path).resolve()
        if candidate.is_dir():
            return candidate
    return (base / repo_path).resolve()


def plan_data_from_settings(data: Any, path: Path, registry: Registry) -> dict[str, Any]:
    """A seed settings file as plan data (validated afterwards like a TOML plan)."""
    _check_keys(data, _SETTINGS_KEYS, path, "")
    if "experiments" not in data:
        raise ConfigError(path, "experiments", "required key is missing")
    experiments = data["experiments"]
    if not isinstance(experiments, list) or not experiments:
        raise ConfigError(path, "experiments", "must be a non-empty list")
    global_mode = data.get("mode", "mutation")
    runs = data.get("runs_per_config", 1)
    plan: dict[str, Any] = {"experiments": []}
    if "experiment_name" in data:
        plan["name"] = _safe(str(data["experiment_name"]))
    if "description" in data:
        plan["description"] = str(data["description"])
    for seed_key in ("seed", "random_seed"):
        if seed_key in data:
            plan["seed"] = data[seed_key]
    if "max_retries" in data:
        plan["timing"] = {"retries": data["max_retries"]}
    if data.get("governor") is not None:
        gov = data["governor"]
        if gov not in _GOVERNORS:
            raise ConfigError(path, "governor", f"unknown governor {gov!r}{suggest(str(gov), _GOVERNORS)}")
        plan["governor"] = gov
    for i, exp in enumerate(experiments):
        key = f"experiments[{i}]"
        _check_keys(exp, _EXPERIMENT_KEYS, path, key)
        repeats = exp.get("runs_per_config", runs)
        if "foreground" in exp or "background" in exp or exp.get("mode") == "parallel":
            entry = _parallel(exp, path, key, registry, repeats)
        else:
            entry = _side(exp, path, key, registry, global_mode, repeats)
            entry["mode"] = "sequential"
        if "max_retries" in exp:
            entry["timing"] = {"retries": exp["max_retries"]}
        note = exp.get("note") or exp.get("comment")
        if note:
            entry["note"] = str(note)
        plan["experiments"].append(entry)
    return plan


def _parallel(exp: dict[str, Any], path: Path, key: str, registry: Registry, repeats: Any) -> dict[str, Any]:
    for side in ("foreground", "background"):
        if side not in exp:
            raise ConfigError(path, f"{key}.{side}", "required for a parallel experiment")
        _check_keys(exp[side], _SIDE_KEYS, path, f"{key}.{side}")
    entry = _side(exp["foreground"], path, f"{key}.foreground", registry, "mutation", repeats)
    bg = exp["background"]
    bg_name = _name(bg, path, f"{key}.background")
    entry["mode"] = "parallel"
    entry["background"] = {"workload": bg_name, "hyperparameters": _values(bg, path, f"{key}.background")}
    return entry


def _side(side: dict[str, Any], path: Path, key: str, registry: Registry,
          default_mode: str, repeats: Any) -> dict[str, Any]:
    name = _name(side, path, key)
    mutate = side.get("mutate", side.get("mutate_params"))
    mode = side.get("mode", default_mode)
    entry: dict[str, Any] = {"workload": name, "hyperparameters": _values(side, path, key)}
    if mutate is not None and mode != "default":
        if not isinstance(mutate, list) or not all(isinstance(m, str) for m in mutate):
            raise ConfigError(path, f"{key}.mutate", "must be a list of hyperparameter names")
        if mutate == ["all"]:
            workload = registry.get(name, path, f"{key}.repo")
            mutate = [n for n, p in workload.hyperparameters.items() if p.mutable]
        # The seed mutated the listed parameters together, runs_per_config distinct times.
        entry["mutate"] = {"parameters": mutate, "strategy": "joint", "mutations": repeats}
    else:
        entry["repeats"] = repeats
    return entry


def _name(side: dict[str, Any], path: Path, key: str) -> str:
    for field in ("repo", "model"):
        if not isinstance(side.get(field), str):
            raise ConfigError(path, f"{key}.{field}", "required string is missing")
    return Registry.canonical(f"{side['repo']}/{side['model']}")


def _values(side: dict[str, Any], path: Path, key: str) -> dict[str, Any]:
    values = side.get("hyperparameters", {})
    if not isinstance(values, dict):
        raise ConfigError(path, f"{key}.hyperparameters", "must be an object")
    return {k: v for k, v in values.items() if v is not None}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".")[:100] or "plan"

