"""Third-party trainings run unchanged: a `python -m package.module` entry point with relative imports,
positional and environment-variable hyperparameters, a nanoGPT-style `--key=value` configurator,
progress bars and metrics printed in exponent notation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan

MAIN = r'''
import os, sys
from ast import literal_eval
from .util import report

epochs, lr = int(sys.argv[1]), float(sys.argv[2])
overrides = {}
for arg in sys.argv[3:]:            # nanoGPT's configurator: only --key=value
    assert arg.startswith("--") and "=" in arg, arg
    key, val = arg[2:].split("=")
    overrides[key] = literal_eval(val)
print("seen", json_args := repr({"epochs": epochs, "lr": lr, "batch_size": os.environ.get("BATCH_SIZE"),
                                  "amp": os.environ.get("USE_AMP"), **overrides}), flush=True)
for e in range(epochs):
    for step in range(1, 4):
        sys.stdout.write(f"\rEpoch {e}: {step}/3 [train_loss={1 / (e + step):.3f}]")
    sys.stdout.write("\n")
report(lr)
'''

UTIL = r'''
def report(lr):
    print(f"| End of training | test loss {lr * 1e-5} | test ppl   219.38")
'''

WORKLOADS = '''
[workloads."lab/pkg"]
argv = ["{python}", "-m", "trainer.main"]
workdir = "repo"
pass_defaults = false
[workloads."lab/pkg".hyperparameters]
epochs = { positional = true, type = "int", default = 2 }
lr = { positional = true, type = "float", default = 0.5, range = [0.1, 1.0] }
batch_size = { env = "BATCH_SIZE", type = "int", default = 32 }
amp = { env = "USE_AMP", type = "bool", default = false }
dropout = { flag = "--dropout=", type = "float", default = 0.0 }
[workloads."lab/pkg".metrics]
file = false
required = ["test_loss", "last_epoch_loss"]
patterns = { test_loss = 'test loss ([0-9.]+)', last_epoch_loss = '^Epoch \\d+: 3/3 \\[train_loss=([0-9.]+)\\]$' }
'''


def test_package_entry_point_with_positional_env_and_joined_flags(tmp_path: Path):
    pkg = tmp_path / "repo" / "trainer"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "main.py").write_text(MAIN)
    (pkg / "util.py").write_text(UTIL)
    plan = tmp_path / "plan.toml"
    plan.write_text(textwrap.dedent('''
        name = "third_party"
        [timing]
        idle_baseline_s = 0
        retries = 0
        [timing.cooldown]
        min_s = 0
        max_s = 0
        [[experiments]]
        workload = "lab/pkg"
        hyperparameters = { lr = 0.25, batch_size = 64, amp = true, dropout = 0.1 }
    ''') + WORKLOADS)
    result = run_plan(load_plan(plan, Registry.builtin()),
                      SessionOptions(results_dir=tmp_path / "results", sensors_factory=lambda p: None))
    (rec,) = result.records
    log = (result.layout.dir / rec.experiment_id / "attempt-1" / "training.log").read_text()
    assert rec.status == "succeeded", (rec.status_reason, log)
    assert rec.argv[1:] == ["-m", "trainer.main", "2", "0.25", "--dropout=0.1"]
    seen = log.splitlines()[0]
    assert seen == "seen " + repr({"epochs": 2, "lr": 0.25, "batch_size": "64", "amp": "1", "dropout": 0.1})
    assert rec.hyperparameter_args == {"epochs": "2", "lr": "0.25", "batch_size": "64", "amp": "true",
                                       "dropout": "0.1"}
    # 0.25e-5 is printed as 2.5e-06; the last redraw of the last epoch is what `$` anchors on
    assert rec.metrics == {"test_loss": 2.5e-06, "last_epoch_loss": 0.25}
    data = json.loads((result.layout.dir / rec.experiment_id / "experiment.json").read_text())
    assert data["hyperparameters"]["batch_size"] == 64
