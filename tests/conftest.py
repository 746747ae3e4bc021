"""Shared fixtures: a tiny external training script and helpers to write plans and run them."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, SessionResult, run_plan

TOY_TRAIN = r'''
import argparse, json, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--fail-first", type=int, default=0)   # fail while the marker file is absent
p.add_argument("--exit-code", type=int, default=0)
p.add_argument("--sleep", type=float, default=0.0)
p.add_argument("--no-metrics", type=int, default=0)
p.add_argument("--name", default="x")
p.add_argument("--spawn-child", type=int, default=0)
a = p.parse_args()
print("args", json.dumps(sys.argv[1:]), flush=True)
if a.spawn_child:
    import subprocess
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(f"child {child.pid}", flush=True)
if a.fail_first and not os.path.exists("marker"):
    open("marker", "w").close()
    print("first attempt fails", flush=True)
    sys.exit(5)
for e in range(a.epochs):
    print(f"epoch {e + 1} loss {1 / (e + 1):.3f}", flush=True)
time.sleep(a.sleep)
if a.exit_code:
    sys.exit(a.exit_code)
print(f"Test Accuracy: {90 + a.epochs}.5%", flush=True)
if not a.no_metrics:
    with open(os.environ["HYPERWATT_METRICS_FILE"], "a") as f:
        f.write(json.dumps({"epoch": a.epochs, "acc": 0.5 + a.epochs / 100, "loss": a.lr}) + "\n")
'''

TOY_WORKLOAD = '''
[workloads."toy/net"]
argv = ["{python}", "train.py"]
workdir = "."
[workloads."toy/net".hyperparameters]
epochs = { flag = "--epochs", type = "int", default = 2, range = [1, 6] }
lr = { flag = "--lr", type = "float", default = 0.1, range = [0.01, 1.0], distribution = "log_uniform" }
fail_first = { flag = "--fail-first", type = "int", default = 0 }
exit_code = { flag = "--exit-code", type = "int", default = 0 }
sleep = { flag = "--sleep", type = "float", default = 0.0 }
no_metrics = { flag = "--no-metrics", type = "int", default = 0 }
name = { flag = "--name", type = "str", default = "x" }
spawn_child = { flag = "--spawn-child", type = "int", default = 0 }
[workloads."toy/net".metrics]
required = ["acc"]
patterns = { test_accuracy = { regex = "Test Accuracy: ([0-9.]+)%", scale = 0.01 } }
'''

# A training that escapes its tree as a daemon would: fork, setsid, fork again, exec with an empty
# environment (no HYPERWATT_TOKEN) a sleeper that ignores SIGTERM; it writes the daemon's pid to
# <cwd>/escapers/<pid>, then trains and exits 0 normally, leaving the daemon behind.
#: the workload that runs ESCAPE_TRAIN (escape.py): its daemon outlives the training
ESCAPE_WORKLOAD = """
[workloads."toy/escape"]
argv = ["{python}", "escape.py"]
workdir = "."
[workloads."toy/escape".hyperparameters]
sleep = { flag = "--sleep", type = "float", default = 0.0 }
[workloads."toy/escape".metrics]
required = ["acc"]
"""

ESCAPE_TRAIN = r'''
import json, os, sys, time
DAEMON = ("import os, signal, sys, time\n"
          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
          "os.makedirs(sys.argv[1], exist_ok=True)\n"
          "open(os.path.join(sys.argv[1], str(os.getpid())), 'w').close()\n"
          "time.sleep(600)\n")
where = os.path.abspath("escapers")
before = set(os.listdir(where)) if os.path.isdir(where) else set()
def live(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False
print(f"earlier daemons alive: {sum(live(int(p)) for p in before)}", flush=True)
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.execve(sys.executable, [sys.executable, "-c", DAEMON, where], {})
os.waitpid(pid, 0)
end = time.monotonic() + 30
while time.monotonic() < end and not (os.path.isdir(where) and set(os.listdir(where)) - before):
    time.sleep(0.01)
time.sleep(float(sys.argv[sys.argv.index("--sleep") + 1]) if "--sleep" in sys.argv else 0.0)
print("escaped; trained", flush=True)
if os.environ.get("HYPERWATT_METRICS_FILE"):
    with open(os.environ["HYPERWATT_METRICS_FILE"], "a") as f:
        f.write(json.dumps({"acc": 0.5}) + "\n")
'''

FAST_TIMING = '''
[timing]
idle_baseline_s = 0
retries = 0
retry_delay_s = 0
[timing.cooldown]
min_s = 0
max_s = 0
'''


@pytest.fixture
def toy_dir(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TOY_TRAIN)
    return tmp_path


@pytest.fixture
def write_plan(toy_dir: Path) -> Callable[[str], Path]:
    """Write a plan with the toy workload and fast timings; `body` adds experiments (and overrides)."""

    def write(body: str, name: str = "plan.toml") -> Path:
        path = toy_dir / name
        path.write_text(f'name = "toy"\nseed = 7\n{FAST_TIMING}\n{TOY_WORKLOAD}\n{textwrap.dedent(body)}')
        return path

    return write


@pytest.fixture
def run_toy(toy_dir: Path) -> Callable[..., SessionResult]:
    def run(plan: Path, **options: Any) -> SessionResult:
        loaded = load_plan(plan, Registry.builtin())
        options.setdefault("sensors_factory", lambda p: None)
        opts = SessionOptions(results_dir=toy_dir / "results", **options)
        return run_plan(loaded, opts)

    return run


@pytest.fixture(autouse=True, scope="session")
def _data_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The built-in workloads' prepare steps write their data cache under the tests' temporary folder."""
    os.environ.setdefault("HYPERWATT_DATA_CACHE", str(tmp_path_factory.mktemp("data-cache")))
