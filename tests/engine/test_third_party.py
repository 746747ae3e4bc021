"""Third-party trainings run unchanged: a `python -m package.module` entry point with relative imports,
positional and environment-variable hyperparameters, a nanoGPT-style `--key=value` configurator,
progress bars and metrics printed in exponent notation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from tests.conftest import FAST_TIMING

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
    plan.write_text('name = "third_party"\n' + FAST_TIMING + textwrap.dedent('''
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


CSV_TRAIN = r'''
import argparse, csv, os
p = argparse.ArgumentParser()
p.add_argument("--output_dir", required=True)
p.add_argument("--lr", type=float, default=0.1)
a = p.parse_args()
os.makedirs(a.output_dir, exist_ok=True)
with open(os.path.join(a.output_dir, "metrics.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerows([["epoch", "val_acc", "test_acc"], [0, 0.5, ""], [1, a.lr, ""], [1, "", a.lr / 2]])
print("done")
'''

# the recipe of docs/configuration.md ("Metrics in files the script writes"), as written there
CSV_WORKLOAD = """
[workloads."lab/csv"]
argv = ["sh", "-c", '''out="$(dirname "$HYPERWATT_METRICS_FILE")/output"
"$0" train.py --output_dir "$out" "$@" && "$0" -m hyperwatt.metricsfile "$out/metrics.csv"''', "{python}"]
workdir = "repo"
hyperparameters = { lr = { flag = "--lr", type = "float", default = 0.1 } }
metrics = { required = ["val_acc", "test_acc"] }
"""


def test_metrics_from_a_csv_the_script_writes_to_a_fresh_folder_per_attempt(tmp_path: Path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "train.py").write_text(CSV_TRAIN)
    plan = tmp_path / "plan.toml"
    plan.write_text('name = "csv"\n[timing]\nidle_baseline_s = 0\nretries = 0\n[timing.cooldown]\nmin_s = 0\n'
                    'max_s = 0\n[[experiments]]\nworkload = "lab/csv"\nrepeats = 2\n'
                    'hyperparameters = { lr = 0.75 }\n' + CSV_WORKLOAD)
    result = run_plan(load_plan(plan, Registry.builtin()),
                      SessionOptions(results_dir=tmp_path / "results", sensors_factory=lambda p: None, rerun=True))
    assert len(result.records) == 2
    for rec in result.records:
        assert rec.status == "succeeded", rec.status_reason
        assert rec.metrics == {"val_acc": 0.75, "test_acc": 0.375}
        assert (result.layout.dir / rec.experiment_id / "attempt-1" / "output" / "metrics.csv").exists()
    assert not (tmp_path / "repo" / "output").exists()


RELATIVE_TRAIN = r'''
import json, os, sys
out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump({"loss": 0.25}, f)
with open(os.environ["HYPERWATT_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"acc": 0.5}) + "\n")
'''


def test_a_relative_results_dir_reaches_a_training_in_its_own_workdir(tmp_path: Path, monkeypatch):
    """`-o results` (the default) is relative to hyperwatt's folder, the training runs in its own:
    the metrics file and `{output_dir}` it is given must still name the attempt's folder."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "train.py").write_text(RELATIVE_TRAIN)
    plan = tmp_path / "plan.toml"
    plan.write_text('name = "rel"\n' + FAST_TIMING + textwrap.dedent('''
        [[experiments]]
        workload = "lab/rel"
        [workloads."lab/rel"]
        argv = ["{python}", "train.py", "--out", "{output_dir}"]
        workdir = "repo"
        metrics = { files = ["{output_dir}/results.json"], required = ["acc", "loss"] }
    '''))
    monkeypatch.chdir(tmp_path)
    result = run_plan(load_plan(plan, Registry.builtin()),
                      SessionOptions(results_dir=Path("results"), sensors_factory=lambda p: None))
    (rec,) = result.records
    assert rec.status == "succeeded", rec.status_reason
    assert rec.metrics == {"acc": 0.5, "loss": 0.25}
    attempt = tmp_path / "results" / result.session_id / rec.experiment_id / "attempt-1"
    assert json.loads((attempt / "output" / "results.json").read_text()) == {"loss": 0.25}
    assert not (tmp_path / "repo" / "results").exists()
