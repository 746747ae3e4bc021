"""The environment an experiment ran in: host, software versions, GPUs, plan hash."""

from __future__ import annotations

import os
import platform
import socket
from importlib import metadata
from typing import Any

import hyperwatt
from hyperwatt.sensors import SensorSet


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def capture(sensors: SensorSet | None, plan_hash: str) -> dict[str, Any]:
    """Cheap facts only (no torch import): the training's own process may report more."""
    gpus = []
    for gpu in sensors.gpus() if sensors is not None else []:
        gpus.append({"index": gpu.index, "device": gpu.info.device})
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "hyperwatt": hyperwatt.__version__,
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
        "nvidia_ml_py": _version("nvidia-ml-py"),
        "gpus": gpus,
        "driver": sensors.driver_version if sensors is not None else None,
        "cuda_driver": sensors.cuda_driver_version if sensors is not None else None,
        "plan_hash": plan_hash,
    }
