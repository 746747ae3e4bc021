"""Helpers to drive `hyperwatt` as a subprocess and look for its processes (interrupt and chaos tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from hyperwatt.process.proctable import snapshot
from tests.conftest import FAST_TIMING, TOY_TRAIN, TOY_WORKLOAD

def make_project(root: Path, experiments: str, timing: str = FAST_TIMING, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.py").write_text(TOY_TRAIN)
    (root / "toy.toml").write_text(TOY_WORKLOAD)
    plan = root / "plan.toml"
    plan.write_text(f'name = "chaos"\nseed = 11\n{timing}\n{extra}\n{experiments}')
    return plan


def start(root: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    extra = ["-W", "toy.toml"] if args[0] == "run" else []
    return subprocess.Popen([sys.executable, "-m", "hyperwatt", *args, *extra, "-o", "results", "-q"],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)


def ours(root: Path) -> list[int]:
    """Live processes of this project's experiments (tokens `hw-<experiment_id>-…`)."""
    prefixes = tuple(f"hw-{p.parent.name}-" for p in (root / "results").glob("*/*/experiment.json"))
    if not prefixes:
        return []
    return [pid for pid, row in snapshot(read_tokens=True).items()
            if row.token and row.token.startswith(prefixes) and not row.zombie]


def wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "results").glob("*/*/experiment.json"))]


def running_training(root: Path) -> bool:
    return any(r["status"] == "running" and list((root / "results").glob(f"*/{r['experiment_id']}/attempt-1/training.log"))
               for r in records(root))


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    os.kill(proc.pid, sig)


__all__ = ["make_project", "start", "ours", "wait_for", "records", "running_training", "signal_group",
           "signal"]
