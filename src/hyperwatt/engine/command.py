"""From a resolved setting to the argv and environment a training is started with."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping

from hyperwatt import metricsfile
from hyperwatt.mutation import Setting


def build_argv(setting: Setting, python: str = sys.executable) -> list[str]:
    """The workload's argv template filled in, then `flag value` per passed hyperparameter."""
    w = setting.workload
    fields = {"python": python, "workdir": str(workdir(setting)), "repo": w.repo, "model": w.model}
    argv = [arg.format_map(fields) for arg in w.argv]
    for name in setting.passed:
        param = w.hyperparameters[name]
        value = setting.values[name]
        if param.type == "bool" and param.bool_style == "switch":
            if value.typed:
                argv.append(param.flag)
        else:
            argv += [param.flag, value.text]
    return argv


def workdir(setting: Setting) -> Path:
    return setting.workload.workdir or Path.cwd()


def build_env(setting: Setting, metrics_file: Path | None, gpu_index: int | None,
              base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(setting.workload.env)
    env["PYTHONUNBUFFERED"] = "1"
    if metrics_file is not None:
        env[metricsfile.ENV_VAR] = str(metrics_file)
    if gpu_index is not None:
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # so CUDA's numbering matches NVML's
        env["CUDA_VISIBLE_DEVICES"] = str(gpu_index)
    return env
