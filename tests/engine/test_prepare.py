"""A workload's prepare step: once per session per distinct command, before the first window,
recorded; a failure is recorded and the experiments still run."""

from __future__ import annotations

import json

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from hyperwatt.errors import ConfigError
from tests.conftest import FAST_TIMING

PREPARE = r'''
import json, sys, time
with open("prepared.jsonl", "a") as fh:
    fh.write(json.dumps({"argv": sys.argv[1:], "t": time.time()}) + "\n")
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 0)
'''
TRAIN = r'''
import json, os, sys, time
print("start", time.time(), flush=True)
with open(os.environ["HYPERWATT_METRICS_FILE"], "a") as f:
    f.write(json.dumps({"acc": 0.5}) + "\n")
'''


def _plan(root, experiments: str, prepare: str) -> object:
    (root / "prep.py").write_text(PREPARE)
    (root / "train.py").write_text(TRAIN)
    plan = root / "plan.toml"
    plan.write_text(f'''name = "prep"
{FAST_TIMING}
[workloads."toy/prep"]
argv = ["{{python}}", "train.py"]
workdir = "."
{prepare}
[workloads."toy/prep".hyperparameters]
size = {{ flag = "--size", type = "str", default = "small" }}
lr = {{ flag = "--lr", type = "float", default = 0.1, range = [0.01, 1.0] }}
[workloads."toy/prep".metrics]
required = ["acc"]
{experiments}
''')
    return plan


def _run(root, plan):
    opts = SessionOptions(results_dir=root / "results", sensors_factory=lambda p: None)
    return run_plan(load_plan(plan, Registry.builtin()), opts)


def test_prepare_runs_once_per_distinct_command_before_the_first_window(tmp_path):
    experiments = '''[[experiments]]
workload = "toy/prep"
repeats = 2
hyperparameters = { lr = 0.2 }
[[experiments]]
workload = "toy/prep"
hyperparameters = { lr = 0.3 }
[[experiments]]
workload = "toy/prep"
hyperparameters = { size = "tiny" }
'''
    plan = _plan(tmp_path, experiments, 'prepare = { argv = ["{python}", "prep.py"], hyperparameters = ["size"] }')
    result = _run(tmp_path, plan)
    assert [r.status for r in result.records] == ["succeeded"] * 4
    ran = [json.loads(line) for line in (tmp_path / "prepared.jsonl").read_text().splitlines()]
    # lr does not reach the prepare step: one run for size=small, one for size=tiny
    assert [r["argv"] for r in ran] == [["--size", "small"], ["--size", "tiny"]]
    first = min(result.records, key=lambda r: r.started_wall)
    assert ran[0]["t"] < first.attempts[0].started_wall
    for rec in result.records:
        (prep,) = rec.environment["prepare"]
        assert prep["exit_code"] == 0 and prep["error"] is None
        assert prep["argv"][-2:] == ["--size", rec.hyperparameters["size"]]
        assert (result.layout.dir / prep["log"]).is_file()


def test_a_failed_prepare_is_recorded_and_the_experiment_still_runs(tmp_path):
    plan = _plan(tmp_path, '[[experiments]]\nworkload = "toy/prep"\n',
                 'prepare = { argv = ["{python}", "prep.py", "3"] }')
    (rec,) = _run(tmp_path, plan).records
    assert rec.status == "succeeded"
    (prep,) = rec.environment["prepare"]
    assert prep["exit_code"] == 3 and "exit code 3" in prep["error"]


def test_prepare_names_only_declared_hyperparameters(tmp_path):
    plan = _plan(tmp_path, '[[experiments]]\nworkload = "toy/prep"\n',
                 'prepare = { argv = ["{python}", "prep.py"], hyperparameters = ["sise"] }')
    with pytest.raises(ConfigError, match=r"prepare.hyperparameters: no hyperparameter named 'sise' \(did you mean 'size'\?\)"):
        load_plan(plan, Registry.builtin())


def test_prepare_has_no_output_dir(tmp_path):
    plan = _plan(tmp_path, '[[experiments]]\nworkload = "toy/prep"\n',
                 'prepare = { argv = ["{python}", "prep.py", "{output_dir}"] }')
    with pytest.raises(ConfigError, match="unknown placeholder"):
        load_plan(plan, Registry.builtin())
