"""The seed system's `models_config.json` (workloads), translated into the same models as
hyperwatt's TOML. Keys the seed used only as notes are accepted and ignored; anything else unknown
is an error with a suggestion. Errors name the key as it is written in the JSON file, not the key of
hyperwatt's model it became. Settings files (plans) are read by `config/seed_settings.py`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hyperwatt.config.errors import from_validation, suggest
from hyperwatt.config.files import read_json
from hyperwatt.config.registry import REPO_ALIASES, Registry
from hyperwatt.config.workload import Workload
from hyperwatt.errors import ConfigError

#: The seed's command line wrote floats with `%.6f` (seed_compat = "intended": exactly).
SEED_FLOAT_DECIMALS = 6
_NOTES = {"description", "comment", "note", "notes", "version", "created", "updated", "author",
          "target_completion", "purpose", "goal"}
_REPO_KEYS = {"path", "train_script", "models", "supported_hyperparams", "model_flag",
              "required_args", "performance_metrics", "description", "comment", "note"}
_PARAM_KEYS = {"flag", "type", "default", "range", "distribution", "zero_probability", "values",
               "description", "comment", "note"}
_METRICS_KEYS = {"log_patterns", "description", "comment", "note"}


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
        if hyper[name].get("type") == "float":  # the seed passed every float as "%.6f"
            hyper[name]["decimals"] = SEED_FLOAT_DECIMALS
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
        # the seed compiled its log patterns with re.IGNORECASE
        "metrics": {"patterns": {k: {"regex": _ignore_case(v)} for k, v in patterns.items()}},
        "pass_defaults": False,  # the seed let train.sh apply its own defaults
        "extra_args": extra,
    }


def _ignore_case(regex: Any) -> Any:
    """The seed's pattern matched case-insensitively: `(?i)` in front (other values fail validation)."""
    return regex if not isinstance(regex, str) or regex.startswith("(?i") else "(?i)" + regex


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
def rename_keys(err: ConfigError, keys: dict[str, str]) -> ConfigError:
    """`err` (from validating a translated settings file) with the key as the file writes it."""
    return _renamed(err, keys)
