"""The environment an experiment ran in: host, software versions, GPUs, plan hash."""

from __future__ import annotations

import os
import platform
import socket
from importlib import metadata
from typing import Any

import hyperwatt


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def capture(sensors: Any | None, plan_hash: str) -> dict[str, Any]:
    """Cheap facts only (no torch import): the training's own process may report more."""
    gpus = []
    for gpu in getattr(sensors, "gpus", lambda: [])():
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
        "driver": getattr(sensors, "driver_version", None),
        "cuda_driver": getattr(sensors, "cuda_driver_version", None),
        "plan_hash": plan_hash,
    }
