"""From a resolved setting to the argv and environment a training is started with."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping

from hyperwatt import metricsfile
from hyperwatt.mutation import Setting


def build_argv(setting: Setting, python: str = sys.executable, output_dir: Path | None = None) -> list[str]:
    """The workload's argv template filled in, the positional hyperparameters in declaration order,
    then the flags: `flag value`, or `flagvalue` for a flag ending in "=" (`--lr=0.1`).
    Without `output_dir` (a preview), `{output_dir}` stays as written."""
    fields = placeholder_values(setting, output_dir) | {"python": python}
    argv = [arg.format_map(fields) for arg in setting.workload.argv]
    w = setting.workload
    passed = [(w.hyperparameters[name], setting.values[name]) for name in setting.passed]
    argv += [value.text for param, value in passed if param.positional]
    for param, value in passed:
        flag = param.flag
        if flag is None:
            continue
        if param.type == "bool" and param.bool_style == "switch":
            if value.typed:
                argv.append(flag)
        elif flag.endswith("="):
            argv.append(flag + value.text)
        else:
            argv += [flag, value.text]
    return argv


def hyperparameter_env(setting: Setting) -> dict[str, str]:
    """The passed hyperparameters declared with `env`: variable -> text (a false switch is left unset)."""
    out = {}
    for name in setting.passed:
        param = setting.workload.hyperparameters[name]
        if param.env is None:
            continue
        value = setting.values[name]
        if param.type == "bool" and param.bool_style == "switch":
            if value.typed:
                out[param.env] = "1"
        else:
            out[param.env] = value.text
    return out


def workdir(setting: Setting) -> Path:
    return setting.workload.workdir or Path.cwd()


def placeholder_values(setting: Setting, output_dir: Path | None) -> dict[str, str]:
    """What `{workdir}`, `{repo}`, `{model}` and `{output_dir}` stand for (argv, metrics.files).
    `{output_dir}` is absolute: the training runs in its own `workdir`, not in hyperwatt's folder."""
    w = setting.workload
    return {"workdir": str(workdir(setting)), "repo": w.repo, "model": w.model,
            "output_dir": str(output_dir.absolute()) if output_dir is not None else "{output_dir}"}


def build_env(setting: Setting, metrics_file: Path | None, gpu_index: int | None,
              base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(setting.workload.env)
    env.update(hyperparameter_env(setting))
    env["PYTHONUNBUFFERED"] = "1"
    if metrics_file is not None:
        env[metricsfile.ENV_VAR] = str(metrics_file.absolute())  # the training's cwd is its workdir
    if gpu_index is not None:
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # so CUDA's numbering matches NVML's
        env["CUDA_VISIBLE_DEVICES"] = str(gpu_index)
    return env
