"""A disk cache of the synthetic data sets, written by a workload's prepare step, read by its runs.

Generating a synthetic set takes seconds that are not training. `python -m hyperwatt.workloads.prepare`
(the built-in workloads' `prepare` step, run once per session before any measured window) builds
each set and stores it here; a run then loads it instead of generating it. A run without a cached
set generates it as before. The key holds everything the set depends on (kind, sizes, seed,
`VERSION`), so a stale file is never read. Folder: `$HYPERWATT_DATA_CACHE`, else
`$XDG_CACHE_HOME/hyperwatt/data`, else `~/.cache/hyperwatt/data`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

ENV_VAR = "HYPERWATT_DATA_CACHE"
#: Bump when a generator changes what it produces.
VERSION = 1
T = TypeVar("T")
_NUMPY = "__numpy__"
_mode = {"write": False}


def set_writing(write: bool) -> None:
    """Prepare mode: build every set and store it (instead of reading a stored one)."""
    _mode["write"] = write


def cache_dir() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hyperwatt" / "data"


def cache_path(kind: str, **key: Any) -> Path:
    text = json.dumps({"kind": kind, "version": VERSION, **key}, sort_keys=True)
    return cache_dir() / f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.pt"


def cached(cls: type[T], kind: str, key: dict[str, Any], build: Callable[[], T], device: torch.device | None) -> T:
    """The `cls` set from the cache (its tensors on `device`; None: on the CPU), else `build()`;
    in prepare mode always `build()`, then stored."""
    path = cache_path(kind, **key)
    if _mode["write"]:
        value = build()
        _save(path, value)
        return value
    loaded = _load(path, cls, device)
    if loaded is None:
        return build()
    print(f"data: {kind} set loaded from the prepare step's cache {path}", flush=True)
    return loaded


def _save(path: Path, value: Any) -> None:
    fields = {}
    for f in dataclasses.fields(value):
        v = getattr(value, f.name)
        if isinstance(v, torch.Tensor):
            v = v.cpu()
        elif isinstance(v, np.ndarray):
            v = {_NUMPY: torch.from_numpy(np.ascontiguousarray(v))}
        fields[f.name] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({"type": type(value).__qualname__, "fields": fields}, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path, cls: type[T], device: torch.device | None) -> T | None:
    """The stored set, or None when there is none or it cannot be read (then it is built anew)."""
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        if stored["type"] != cls.__qualname__:
            return None
        fields = {}
        for key, v in stored["fields"].items():
            if isinstance(v, dict) and _NUMPY in v:
                v = v[_NUMPY].numpy()
            elif isinstance(v, torch.Tensor) and device is not None:
                v = v.to(device)
            elif isinstance(v, list):
                v = tuple(v)
            fields[key] = v
        return cls(**fields)
    except Exception:  # a damaged or foreign file: generate the set instead
        return None
