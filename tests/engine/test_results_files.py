"""Metrics from results files a training writes itself, and the attempt's own `{output_dir}`."""

from __future__ import annotations

import os
import time

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.errors import ConfigError

TRAIN = r'''
import argparse, csv, json, os
p = argparse.ArgumentParser()
p.add_argument("--output_dir", required=True)
p.add_argument("--learning_rate", type=float, default=0.1)
p.add_argument("--write", default="yes")
a = p.parse_args()
assert os.path.isdir(a.output_dir) and not os.listdir(a.output_dir), "a fresh, empty folder"
if a.write == "yes":
    with open(os.path.join(a.output_dir, "all_results.json"), "w") as f:
        json.dump({"eval_accuracy": 0.75, "eval_loss": a.learning_rate, "epoch": 1.0, "note": "text"}, f)
    os.makedirs("lightning_logs/version_3", exist_ok=True)
    with open("lightning_logs/version_3/metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerows([["step", "val_f1", "train_loss"], [1, "", 0.9], [2, 0.5, 0.7], [3, 0.625, ""]])
print("done", a.output_dir)
'''

WORKLOAD = '''
[workloads."hf/toy"]
argv = ["{python}", "hf_train.py", "--output_dir", "{output_dir}"]
workdir = "."
[workloads."hf/toy".hyperparameters]
learning_rate = { flag = "--learning_rate", type = "float", default = 0.1 }
write = { flag = "--write", type = "str", default = "yes" }
[workloads."hf/toy".metrics]
file = false
files = ["{output_dir}/all_results.json", "lightning_logs/version_*/metrics.csv"]
required = ["eval_accuracy", "val_f1"]
'''


@pytest.fixture
def hf_plan(write_plan, toy_dir):
    (toy_dir / "hf_train.py").write_text(TRAIN)

    def plan(hyperparameters: str = ""):
        return write_plan(f'{WORKLOAD}\n[[experiments]]\nworkload = "hf/toy"\nhyperparameters = {{ {hyperparameters} }}\n')
    return plan


def test_metrics_come_from_the_trainings_own_files_in_its_fresh_output_dir(hf_plan, run_toy):
    (rec,) = run_toy(hf_plan("learning_rate = 0.03")).records
    assert rec.status == "succeeded", rec.status_reason
    attempt = rec.attempts[-1]
    out = attempt.argv[attempt.argv.index("--output_dir") + 1]
    assert out.endswith(f"{rec.experiment_id}/attempt-1/output") and os.path.isfile(f"{out}/all_results.json")
    # JSON numbers (text left out), the CSV's last value of each column
    assert rec.metrics["eval_accuracy"] == 0.75 and rec.metrics["eval_loss"] == 0.03
    assert rec.metrics["val_f1"] == 0.625 and rec.metrics["train_loss"] == 0.7


def test_a_results_file_older_than_the_attempt_is_not_credited(hf_plan, run_toy, toy_dir):
    old = toy_dir / "lightning_logs" / "version_0" / "metrics.csv"
    old.parent.mkdir(parents=True)
    old.write_text("val_f1\n0.99\n")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    (rec,) = run_toy(hf_plan('write = "no"')).records
    assert rec.status == "failed"
    attempt = rec.attempts[-1]
    assert attempt.missing_metrics == ["eval_accuracy", "val_f1"]
    assert any("none written by this attempt (1 older than the attempt)" in p for p in attempt.metric_problems)


@pytest.mark.parametrize("files, reason", [
    ('["{python}/x.json"]', "unknown placeholder {python} in metrics"),
    ('["out/{epoch}.json"]', "unknown placeholder {epoch} in metrics"),
    ('[""]', "is not a path"),
])
def test_bad_results_file_entries_are_one_line_errors(write_plan, files, reason):
    plan = write_plan(f'''
[workloads."x/y"]
argv = ["{{python}}", "t.py"]
[workloads."x/y".metrics]
files = {files}
[[experiments]]
workload = "x/y"
''')
    with pytest.raises(ConfigError) as info:
        load_plan(plan, Registry.builtin())
    assert reason in str(info.value) and "\n" not in str(info.value)


def test_an_unreadable_table_is_a_problem_not_an_internal_error(tmp_path):
    from hyperwatt.metrics import ResultsFiles

    (tmp_path / "big.csv").write_text("a\n" + "x" * 200_000 + "\n")
    values, problems = ResultsFiles(tmp_path, {}, 0.0).read(["big.csv"])
    assert values == {} and len(problems) == 1 and "is not a readable table" in problems[0]


def test_brackets_in_a_path_are_not_wildcards_and_the_newest_file_wins(tmp_path):
    from hyperwatt.metrics import ResultsFiles

    out = tmp_path / "run[1]" / "out"
    (out / "v9").mkdir(parents=True)
    (out / "v10").mkdir()
    (out / "v10" / "m.json").write_text('{"acc": 0.1}')
    (out / "v9" / "m.json").write_text('{"acc": 0.9}')
    old = time.time() - 5  # v9 written first, v10 last: by name v9 would come last
    os.utime(out / "v9" / "m.json", (old, old))
    values, problems = ResultsFiles(tmp_path, {"output_dir": str(out)}, old - 0.5).read(["{output_dir}/v*/m.json"])
    assert problems == [] and values == {"acc": 0.1}


def test_numbers_in_nested_objects_are_named_as_a_problem_not_silently_dropped(tmp_path):
    """`{"final": {"acc": 0.9}}` holds no top-level metric: a required `acc` went missing without a
    word about where it was. The problem names the nested numbers by their dotted path."""
    from hyperwatt.metrics import ResultsFiles

    (tmp_path / "results.json").write_text(
        '{"loss": 0.5, "final": {"acc": 0.9, "note": "x", "per_class": {"cat": 0.8}}, "tag": "t"}')
    values, problems = ResultsFiles(tmp_path, {}, 0.0).read(["results.json"])
    assert values == {"loss": 0.5}
    (problem,) = problems
    assert "results.json" in problem and "nested" in problem and problem.endswith(": final.acc, final.per_class.cat")
    (tmp_path / "flat.json").write_text('{"acc": 0.9}')
    assert ResultsFiles(tmp_path, {}, 0.0).read(["flat.json"]) == ({"acc": 0.9}, [])
