"""The seed system's JSON formats: `models_config.json` (workloads) and settings files (plans).

Both load as-is and translate into the same models as hyperwatt's TOML. Keys the seed used only
as notes are accepted and ignored; anything else unknown is an error with a suggestion. The seed
read its settings leniently (a mode it did not know ran as a mutation, a missing `mutate` mutated
everything); each translation below follows what the seed's runner did with the key, and a value
it would have misread is an error. Errors name the key as it is written in the JSON file, not the
key of hyperwatt's model it became.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hyperwatt.config.errors import from_validation, suggest
from hyperwatt.config.files import read_json
from hyperwatt.config.registry import REPO_ALIASES, Registry
from hyperwatt.config.workload import Workload
from hyperwatt.errors import ConfigError

_NOTES = {"description", "comment", "note", "notes", "version", "created", "updated", "author",
          "target_completion", "purpose", "goal"}
_REPO_KEYS = {"path", "train_script", "models", "supported_hyperparams", "model_flag",
              "required_args", "performance_metrics", "description", "comment", "note"}
_PARAM_KEYS = {"flag", "type", "default", "range", "distribution", "zero_probability", "values",
               "description", "comment", "note"}
_METRICS_KEYS = {"log_patterns", "description", "comment", "note"}
_SETTINGS_KEYS = {"experiment_name", "mode", "runs_per_config", "max_retries", "governor", "experiments",
                  "use_deduplication", "historical_csvs", "seed", "random_seed"}
_EXPERIMENT_KEYS = {"repo", "model", "mode", "mutate", "mutate_params", "hyperparameters", "runs_per_config",
                    "max_retries", "foreground", "background"}
_FOREGROUND_KEYS = {"repo", "model", "mode", "mutate", "mutate_params", "hyperparameters", "runs_per_config"}
_BACKGROUND_KEYS = {"repo", "model", "mode", "hyperparameters"}
_GOVERNORS = {"performance", "powersave", "ondemand", "conservative", "schedutil", "userspace"}
#: The seed's modes: the settings' top level (`mixed`: each experiment says), an experiment, a side.
_TOP_MODES = ("mutation", "default", "parallel", "mixed")
_EXPERIMENT_MODES = ("mutation", "default", "parallel")
_SIDE_MODES = ("mutation", "default")


def _is_note(key: str) -> bool:
    # the seed's settings carry estimates in many units: estimated_duration_hours, _minutes, ...
    return key in _NOTES or key.startswith("estimated_")


def _check_keys(obj: Any, allowed: set[str], path: Path, key: str, what: str = "") -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ConfigError(path, key or None, "must be a JSON object" + (f" ({what})" if what else ""))
    for k in obj:
        if k not in allowed and not _is_note(k):
            raise ConfigError(path, f"{key}.{k}" if key else k, f"unknown key{suggest(k, allowed)}")
    return obj


def _renamed(err: ConfigError, keys: dict[str, str]) -> ConfigError:
    """The error with its key written as in the seed's file (longest matching prefix of `keys`)."""
    key = err.key
    if key is None:
        return err
    for prefix in sorted(keys, key=len, reverse=True):
        if key == prefix or key.startswith((prefix + ".", prefix + "[")):
            return ConfigError(err.source, keys[prefix] + key[len(prefix):], err.reason)
    return err


def _literal(text: str) -> str:
    """A seed argument as an argv template item: the seed had no placeholders, so braces are literal."""
    return text.replace("{", "{{").replace("}", "}}")


# ------------------------------------------------------------------------------- models_config.json
def workloads_from_models_config(path: Path) -> list[Workload]:
    """Each repo's models become `repo/model` workloads, run as `train_script [model_flag model]`."""
    data = read_json(path)
    if isinstance(data, dict) and "experiments" in data and "models" not in data:
        raise ConfigError(path, "experiments", "this is a seed settings file (a plan), not a models_config.json; "
                          "run it as the plan: hyperwatt run FILE -W models_config.json")
    _check_keys(data, {"models"}, path, "")
    repos = data.get("models")
    if not isinstance(repos, dict) or not repos:
        raise ConfigError(path, "models", "must be an object of repositories")
    out: list[Workload] = []
    names: dict[str, str] = {}
    for repo, rc in repos.items():
        rkey = f"models.{repo}"
        _check_keys(rc, _REPO_KEYS, path, rkey)
        for field in ("path", "train_script", "models"):
            if field not in rc:
                raise ConfigError(path, f"{rkey}.{field}", "required key is missing")
        models = rc["models"]
        if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
            raise ConfigError(path, f"{rkey}.models", "must be a non-empty list of model names")
        argv0 = _string(rc, "train_script", path, rkey, "the script that trains, e.g. \"./train.sh\"")
        model_flag = rc.get("model_flag")
        if model_flag is not None and not isinstance(model_flag, str):
            raise ConfigError(path, f"{rkey}.model_flag", f"must be a string such as \"-n\", got {model_flag!r}")
        table = _workload_table(rc, path, rkey)
        keys = {f"{rkey}.hyperparameters": f"{rkey}.supported_hyperparams",
                f"{rkey}.metrics.patterns": f"{rkey}.performance_metrics.log_patterns",
                f"{rkey}.metrics": f"{rkey}.performance_metrics", f"{rkey}.workdir": f"{rkey}.path",
                f"{rkey}.argv": f"{rkey}.train_script", f"{rkey}.name": f"{rkey}.models"}
        for pattern in table["metrics"]["patterns"]:  # a seed pattern is the regex string itself
            keys[f"{rkey}.metrics.patterns.{pattern}.regex"] = f"{rkey}.performance_metrics.log_patterns.{pattern}"
        for j, model in enumerate(models):
            argv = [_literal(argv0)]
            if model_flag:
                argv += [_literal(model_flag), model]
            argv += table["extra_args"]
            fields = {k: v for k, v in table.items() if k != "extra_args"}
            try:
                name = Registry.canonical(f"{repo}/{model}")
                workload = Workload(name=name, argv=argv, source=str(path), **fields)
            except ValidationError as err:
                raise _renamed(from_validation(err, Workload, path, rkey), keys) from None
            if name in names:
                raise ConfigError(path, f"{rkey}.models[{j}]", f"{model!r} is listed twice" if names[name] == rkey
                                  else f"{name} is declared by {names[name]} too (the seed's repository names "
                                  f"{', '.join(f'{k} -> {v}' for k, v in REPO_ALIASES.items())} are read as ours)")
            names[name] = rkey
            out.append(workload)
    return out


def _string(obj: dict[str, Any], field: str, path: Path, key: str, what: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        raise ConfigError(path, f"{key}.{field}", f"must be a non-empty string: {what} (got {value!r})")
    return value


def _workload_table(rc: dict[str, Any], path: Path, rkey: str) -> dict[str, Any]:
    params = rc.get("supported_hyperparams", {})
    if not isinstance(params, dict):
        raise ConfigError(path, f"{rkey}.supported_hyperparams", "must be an object")
    hyper = {}
    for name, spec in params.items():
        _check_keys(spec, _PARAM_KEYS, path, f"{rkey}.supported_hyperparams.{name}")
        hyper[name] = {k: v for k, v in spec.items() if not _is_note(k)}
        if hyper[name].get("flag") is None:  # absent or null: the seed's scripts took --<name>
            hyper[name]["flag"] = f"--{name}"
    extra: list[str] = []
    required = rc.get("required_args", {})
    if not isinstance(required, dict):
        raise ConfigError(path, f"{rkey}.required_args", "must be an object of name -> arguments")
    for name, text in required.items():
        if isinstance(text, bool) or not isinstance(text, (str, int, float)):
            raise ConfigError(path, f"{rkey}.required_args.{name}", f"must be a string of arguments, got {text!r}")
        try:
            extra += [_literal(arg) for arg in shlex.split(str(text))]
        except ValueError as exc:
            raise ConfigError(path, f"{rkey}.required_args.{name}", f"cannot split arguments: {exc}") from None
    perf = rc.get("performance_metrics")
    perf = {} if perf is None else _check_keys(perf, _METRICS_KEYS, path, f"{rkey}.performance_metrics")
    patterns = perf.get("log_patterns", {})
    if not isinstance(patterns, dict):
        raise ConfigError(path, f"{rkey}.performance_metrics.log_patterns", "must be an object")
    return {
        "workdir": _resolve_repo_dir(path, _string(rc, "path", path, rkey, "the repository's folder"), rkey),
        "hyperparameters": hyper,
        "metrics": {"patterns": {k: {"regex": v} for k, v in patterns.items()}},
        "pass_defaults": False,  # the seed let train.sh apply its own defaults
        "extra_args": extra,
    }


def _resolve_repo_dir(config: Path, repo_path: str, rkey: str) -> Path:
    """Relative to the config's folder, or to its parent (the seed kept it in `mutation/`)."""
    if "\0" in repo_path:
        raise ConfigError(config, f"{rkey}.path", "contains a NUL byte, which no path can hold")
    base = config.resolve().parent
    for root in (base, base.parent):
        candidate = (root / repo_path).resolve()
        if candidate.is_dir():
            return candidate
    return (base / repo_path).resolve()


# ---------------------------------------------------------------------------------- settings files
def plan_data_from_settings(data: Any, path: Path, registry: Registry) -> tuple[dict[str, Any], dict[str, str]]:
    """A seed settings file as plan data (validated afterwards like a TOML plan), and the seed's name
    for each key of that data (for errors found later)."""
    if isinstance(data, dict) and "models" in data and "experiments" not in data:
        raise ConfigError(path, "models", "this is a seed models_config.json (workloads), not a settings file; "
                          "pass it with -W/--workloads")
    _check_keys(data, _SETTINGS_KEYS, path, "")
    if "experiments" not in data:
        raise ConfigError(path, "experiments", "required key is missing")
    experiments = data["experiments"]
    if not isinstance(experiments, list) or not experiments:
        raise ConfigError(path, "experiments", "must be a non-empty list")
    global_mode = _mode(data, path, "", _TOP_MODES, "mutation")
    runs = (data["runs_per_config"], "runs_per_config") if data.get("runs_per_config") is not None else (1, "")
    plan: dict[str, Any] = {"experiments": []}
    keys = {"name": "experiment_name"}
    if data.get("experiment_name") is not None:
        plan["name"] = _safe(str(data["experiment_name"]))
    if data.get("description") is not None:
        plan["description"] = str(data["description"])
    seeds = {k: data[k] for k in ("seed", "random_seed") if data.get(k) is not None}
    if len(seeds) == 2 and seeds["seed"] != seeds["random_seed"]:
        raise ConfigError(path, "random_seed", f"differs from 'seed' ({seeds['random_seed']!r} vs {seeds['seed']!r}); "
                          "give one")
    for seed_key, value in seeds.items():
        plan["seed"] = value
        keys["seed"] = seed_key
    if data.get("max_retries") is not None:
        plan["timing"] = {"retries": data["max_retries"]}
        keys["timing.retries"] = keys["timing"] = "max_retries"
    gov = data.get("governor")
    if gov is not None:
        if not isinstance(gov, str) or gov not in _GOVERNORS:
            raise ConfigError(path, "governor", f"unknown governor {gov!r}{suggest(str(gov), _GOVERNORS)}; "
                              f"known: {', '.join(sorted(_GOVERNORS))}")
        plan["governor"] = gov
    for i, exp in enumerate(experiments):
        key = f"experiments[{i}]"
        _check_keys(exp, _EXPERIMENT_KEYS, path, key, "one experiment")
        mode = _mode(exp, path, key, _EXPERIMENT_MODES, None)
        own_runs = (exp["runs_per_config"], f"{key}.runs_per_config") if exp.get("runs_per_config") is not None \
            else runs
        sides = [s for s in ("foreground", "background") if s in exp]
        if mode == "parallel" or (mode is None and sides):
            entry = _parallel(exp, path, key, registry, own_runs, keys)
        elif sides:
            raise ConfigError(path, f"{key}.{sides[0]}", f"only a parallel experiment has one, and this one has "
                              f"mode {mode!r}: set \"mode\": \"parallel\" or move repo/model up")
        elif global_mode == "parallel" and mode is None:
            raise ConfigError(path, key, "the top-level mode 'parallel' applies here, but a parallel experiment "
                              "needs 'foreground' and 'background' objects (the seed skipped it); give this "
                              "experiment its own \"mode\"")
        else:
            side_mode = mode or ("mutation" if global_mode in ("parallel", "mixed") else global_mode)
            entry = _side(exp, path, key, key, registry, side_mode, own_runs, keys)
            entry["mode"] = "sequential"
        if exp.get("max_retries") is not None:
            entry["timing"] = {"retries": exp["max_retries"]}
            keys[f"{key}.timing.retries"] = keys[f"{key}.timing"] = f"{key}.max_retries"
        note = exp.get("note") or exp.get("comment")
        if note:
            entry["note"] = str(note)
        plan["experiments"].append(entry)
    return plan, keys


def rename_keys(err: ConfigError, keys: dict[str, str]) -> ConfigError:
    """`err` (from validating the translated plan) with the key as the settings file writes it."""
    return _renamed(err, keys)


def _mode(obj: dict[str, Any], path: Path, key: str, known: tuple[str, ...], default: str | None) -> str | None:
    mode = obj.get("mode")
    if mode is None:
        return default
    if mode not in known:
        where = f"{key}.mode" if key else "mode"
        raise ConfigError(path, where, f"unknown mode {mode!r}{suggest(str(mode), known)}; "
                          f"known: {', '.join(known)}")
    return mode


def _parallel(exp: dict[str, Any], path: Path, key: str, registry: Registry, runs: tuple[Any, str],
              keys: dict[str, str]) -> dict[str, Any]:
    for side, allowed in (("foreground", _FOREGROUND_KEYS), ("background", _BACKGROUND_KEYS)):
        if exp.get(side) is None:
            raise ConfigError(path, f"{key}.{side}", "required for a parallel experiment (an object with repo "
                              "and model)")
        if side == "background":
            for k in ("mutate", "mutate_params"):
                if isinstance(exp[side], dict) and k in exp[side]:
                    raise ConfigError(path, f"{key}.background.{k}", "a background runs with fixed "
                                      "hyperparameters and is never mutated (the seed ignored this key)")
        _check_keys(exp[side], allowed, path, f"{key}.{side}")
    for k in ("repo", "model", "hyperparameters", "mutate", "mutate_params"):
        if k in exp:
            raise ConfigError(path, f"{key}.{k}", "a parallel experiment takes it inside 'foreground' "
                              "(the seed ignored it here)")
    fg = exp["foreground"]
    fkey = f"{key}.foreground"
    if fg.get("runs_per_config") is not None:
        runs = (fg["runs_per_config"], f"{fkey}.runs_per_config")
    entry = _side(fg, path, key, fkey, registry, _mode(fg, path, fkey, _SIDE_MODES, "mutation"), runs, keys)
    bg = exp["background"]
    bkey = f"{key}.background"
    _mode(bg, path, bkey, _SIDE_MODES, None)
    entry["mode"] = "parallel"
    entry["background"] = {"workload": _name(bg, path, bkey, registry, keys, f"{key}.background.workload"),
                           "hyperparameters": _values(bg, path, bkey)}
    keys[f"{key}.background.hyperparameters"] = f"{bkey}.hyperparameters"
    return entry


def _side(side: dict[str, Any], path: Path, key: str, skey: str, registry: Registry, mode: str | None,
          runs: tuple[Any, str], keys: dict[str, str]) -> dict[str, Any]:
    """One training of the seed's: `key` names the plan entry, `skey` the object in the file; `mode` is
    "default" or a mutation (any other value)."""
    name = _name(side, path, skey, registry, keys, f"{key}.workload")
    values = _values(side, path, skey)
    keys[f"{key}.hyperparameters"] = f"{skey}.hyperparameters"
    runs_value, runs_key = runs
    runs_key = runs_key or f"{skey}.runs_per_config"
    if "mutate" in side and "mutate_params" in side:
        raise ConfigError(path, f"{skey}.mutate_params", "give one of 'mutate' and 'mutate_params'")
    mkey = f"{skey}.mutate" if "mutate" in side else f"{skey}.mutate_params"
    mutate = side.get("mutate", side.get("mutate_params"))
    entry: dict[str, Any] = {"workload": name, "hyperparameters": values}
    if mode == "default":
        entry["repeats"] = runs_value
        keys[f"{key}.repeats"] = runs_key
        return entry
    # mutation: the seed mutated `mutate` (every hyperparameter when absent) runs_per_config distinct times
    if mutate is None:
        mutate = ["all"]
    if not isinstance(mutate, list) or not all(isinstance(m, str) for m in mutate):
        raise ConfigError(path, mkey, "must be a list of hyperparameter names, or [\"all\"]")
    if mutate == ["all"]:
        workload = registry.get(name, path, keys.get(f"{key}.workload", f"{skey}.repo"))
        mutate = [n for n, p in workload.hyperparameters.items() if p.mutable and n not in values]
        if not mutate:
            raise ConfigError(path, mkey if mkey.split(".")[-1] in side else f"{skey}.mode",
                              f"{workload.name} has no hyperparameter left to mutate; use \"mode\": \"default\"")
    entry["mutate"] = {"parameters": mutate, "strategy": "joint", "mutations": runs_value}
    keys[f"{key}.mutate.parameters"] = mkey
    keys[f"{key}.mutate.mutations"] = runs_key
    keys[f"{key}.mutate"] = mkey
    return entry


def _name(side: dict[str, Any], path: Path, key: str, registry: Registry, keys: dict[str, str],
          plan_key: str) -> str:
    for field in ("repo", "model"):
        if not isinstance(side.get(field), str):
            raise ConfigError(path, f"{key}.{field}", "required string is missing")
    name = Registry.canonical(f"{side['repo']}/{side['model']}")
    repo = name.split("/")[0]
    # an unknown workload: name the model when its repository is known, else the repository
    known_repo = any(n.split("/")[0] == repo for n in registry.names())
    keys[plan_key] = f"{key}.model" if known_repo else f"{key}.repo"
    return name


def _values(side: dict[str, Any], path: Path, key: str) -> dict[str, Any]:
    values = side.get("hyperparameters", {})
    if not isinstance(values, dict):
        raise ConfigError(path, f"{key}.hyperparameters", "must be an object")
    return {k: v for k, v in values.items() if v is not None}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".")[:100] or "plan"
