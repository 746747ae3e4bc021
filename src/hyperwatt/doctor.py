"""`hyperwatt doctor`: what this machine offers for measuring, and what is missing and why."""

from __future__ import annotations

import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def checks(results_dir: Path) -> list[tuple[str, bool, str]]:
    rows: list[tuple[str, bool, str]] = [
        ("python", sys.version_info >= (3, 10), f"{platform.python_version()} at {sys.executable}"),
    ]
    for dist in ("torch", "torchvision", "scikit-learn", "nvidia-ml-py"):
        v = _version(dist)
        rows.append((dist, v is not None, v or "not installed (pip install 'hyperwatt[workloads]')"))
    rows += _sensor_rows()
    rows.append(_results_row(results_dir))
    return rows


def _sensor_rows() -> list[tuple[str, bool, str]]:
    from hyperwatt.sensors import describe

    out = []
    for row in describe():
        detail = row.get("detail") or ""
        out.append((f"sensor {row['name']}", bool(row.get("ok")), detail))
    return out


def _results_row(results_dir: Path) -> tuple[str, bool, str]:
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=results_dir):
            pass
    except OSError as exc:
        return ("results dir", False, f"{results_dir}: {exc.strerror or exc}")
    from hyperwatt.errors import StoreError
    from hyperwatt.store import DB_NAME, open_store

    if (results_dir / DB_NAME).exists():
        try:  # a damaged or foreign store fails every command that reads it: say so here
            store = open_store(results_dir, readonly=True)
            sessions = len(store.sessions())
            store.close()
        except StoreError as exc:
            return ("results dir", False, str(exc))
        return ("results dir", True, f"{results_dir.resolve()} is writable; its store holds {sessions} session(s)")
    return ("results dir", True, f"{results_dir.resolve()} is writable")
