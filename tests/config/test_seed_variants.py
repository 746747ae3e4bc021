"""The seed system's settings and models_config files in the variants its own repository used, and
hostile ones: each translates as the seed's runner read it, or fails in one line naming the key as
the JSON file writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperwatt.config import Registry, load_plan, load_registry
from hyperwatt.engine.command import build_argv
from hyperwatt.errors import ConfigError
from config_helpers import one_line_error
from hyperwatt.mutation import expand, resolve

FG = {"repo": "examples", "model": "mnist_ff", "mode": "default", "hyperparameters": {"epochs": 1}}
BG = {"repo": "Person_reID_baseline_pytorch", "model": "densenet121", "hyperparameters": {}}


def _load(tmp_path: Path, data: object, name: str = "settings.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False))
    return load_plan(path, Registry.builtin())


def _err(tmp_path: Path, data: object) -> ConfigError:
    return one_line_error(_load, tmp_path, data, names="settings.json")


def test_seed_stage_file_with_notes_and_parallel_mutation(tmp_path):
    """settings/stage11_parallel_hrnet18.json's shape: notes everywhere, runs_per_config per experiment."""
    plan = _load(tmp_path, {
        "comment": "Stage11: 并行模式hrnet18补充", "version": "4.7.1-fixed", "created": "2025-12-05",
        "estimated_duration_hours": 28.6, "estimated_duration_minutes": 5, "estimated_experiments": 20,
        "target_completion": {"parameters": ["hrnet18 x5"], "goal": "补充"},
        "use_deduplication": True, "historical_csvs": ["data/raw_data.csv"],
        "experiments": [{"mode": "parallel", "runs_per_config": 5, "comment": "超慢速模型",
                         "foreground": {"repo": "Person_reID_baseline_pytorch", "model": "hrnet18",
                                        "mode": "mutation", "mutate": ["epochs"], "comment": "仅变异epochs"},
                         "background": BG}],
    }).plan
    (e,) = plan.experiments
    assert e.mode == "parallel" and e.workload == "Person_reID/hrnet18" and e.note == "超慢速模型"
    assert e.mutate.parameters == ["epochs"] and e.mutate.mutations == 5


def test_mutation_without_mutate_mutates_everything_as_the_seed_did(tmp_path):
    """The seed's runner: exp.get("mutate", ["all"]); hyperwatt ran the default setting instead."""
    plan = _load(tmp_path, {"runs_per_config": 3, "experiments": [
        {"repo": "examples", "model": "mnist"},
        {"mode": "parallel", "foreground": {"repo": "examples", "model": "mnist_rnn",
                                            "hyperparameters": {"epochs": 1}}, "background": BG},
    ]}).plan
    seq, par = plan.experiments
    assert seq.mutate.parameters == ["epochs", "learning_rate", "batch_size", "seed"] and seq.mutate.mutations == 3
    # the seed dropped fixed values beside a mutation, and mutated everything
    assert par.mutate.parameters == ["epochs", "learning_rate", "batch_size", "seed"] and par.hyperparameters == {}
    # seed_compat = "intended": the fixed value holds, "all" leaves it out
    path = tmp_path / "settings.json"
    par = load_plan(path, Registry.builtin(), seed_compat="intended").plan.experiments[1]
    assert par.mutate.parameters == ["learning_rate", "batch_size", "seed"] and par.hyperparameters == {"epochs": 1}


def test_foreground_runs_per_config_is_read(tmp_path):
    plan = _load(tmp_path, {"runs_per_config": 1, "experiments": [
        {"mode": "parallel", "foreground": {**FG, "runs_per_config": 2}, "background": BG}]}).plan
    assert plan.experiments[0].repeats == 2


def test_top_level_modes_default_and_mixed(tmp_path):
    plan = _load(tmp_path, {"mode": "default", "runs_per_config": 2, "experiments": [
        {"repo": "examples", "model": "mnist", "hyperparameters": {"epochs": 60}}]}).plan
    assert plan.experiments[0].mutate is None and plan.experiments[0].repeats == 2
    plan = _load(tmp_path, {"mode": "mixed", "experiments": [
        {"mode": "default", "repo": "examples", "model": "mnist"},
        {"mode": "parallel", "foreground": FG, "background": BG}]}).plan
    assert [e.mode for e in plan.experiments] == ["sequential", "parallel"]


@pytest.mark.parametrize("data, key, reason", [
    ({"governor": ["performance"], "experiments": [FG]}, "governor", "unknown governor"),  # internal error
    ({"seed": 1, "random_seed": 2, "experiments": [FG]}, "random_seed", "differs"),
    ({"runs_per_config": 0, "experiments": [{"repo": "examples", "model": "mnist", "mode": "default"}]},
     "runs_per_config", "from 1 to 100,000, got 0"),
    ({"experiments": [{"repo": "examples", "model": "mnist", "runs_per_config": 200000}]},
     "experiments[0].runs_per_config", "100,000"),
    ({"max_retries": -1, "experiments": [FG]}, "max_retries", "from 0 to 100"),
    ({"experiments": [{"repo": "examples", "model": "mnist", "mode": "default", "hyperparameters": {"epochs": [3]}}]},
     "experiments[0].hyperparameters.epochs", "got a list"),  # was 'Input should be a valid boolean'
    ({"experiments": [{"repo": "examples", "model": "mnist", "mode": "default",
                       "hyperparameters": {"epochs": "ten"}}]}, "experiments[0].hyperparameters.epochs", "expected int"),
    ({"models": {}}, "models", "pass it with -W"),
    ({"experiments": "all"}, "experiments", "non-empty list"),
    ({"experiments": [FG, 3]}, "experiments[1]", "must be a JSON object"),
])
def test_bad_seed_settings_name_the_seed_key(tmp_path, data, key, reason):
    err = _err(tmp_path, data)
    assert err.key == key, str(err)
    assert reason in err.reason, str(err)


def test_every_problem_of_a_file_at_once(tmp_path):
    err = _err(tmp_path, {"governor": "turbo", "max_retries": -1, "experiments": [
        {"repo": "examples", "model": "mnist", "mode": "default", "hyperparameters": {"epochs": "ten", "seed": [1]}}]})
    text = str(err)
    assert err.key == "max_retries" or err.key == "governor"
    for fragment in ("unknown governor", "max_retries", "hyperparameters.epochs", "hyperparameters.seed", "3 more"):
        assert fragment in text, text


@pytest.mark.parametrize("data, planned, note", [
    # a mode the seed did not know ran the mutation branch (a typo is pointed out)
    ({"experiments": [{"repo": "examples", "model": "mnist", "mode": "defualt", "runs_per_config": 2}]}, 2,
     "did you mean 'default'"),
    ({"mode": "mutaton", "experiments": [{"repo": "examples", "model": "mnist"}]}, 1, "did you mean 'mutation'"),
    ({"experiments": [{"repo": "x", "model": "mnist", "mode": "nonparallel"}, FG]}, 1, "'nonparallel', not one"),
    # a foreground mode other than 'mutation' ran its fixed values
    ({"experiments": [{"mode": "parallel", "foreground": {**FG, "mode": "parallel"}, "background": BG}]}, 1,
     "foreground mode 'parallel'"),
    # the seed skipped these entries: nothing to run is one line
    ({"mode": "parallel", "experiments": [{"repo": "examples", "model": "mnist"}, FG]}, 1,
     "without 'foreground' and 'background'"),  # FG has its own mode
    ({"experiments": [{"mode": "default", "foreground": FG, "background": BG}]}, 0, "found no 'repo'"),
    ({"experiments": [{"mode": "parallel", "foreground": FG, "background": None}]}, 0,
     "without 'foreground' and 'background'"),
    ({"experiments": [{"repo": "examples", "model": "mnist", "mutate": ["lr"]}]}, 0, "lr on examples/mnist"),
    ({"experiments": [{"repo": "examples", "model": "mnst", "mode": "default"}]}, 0, "did you mean 'examples/mnist'"),
    ({"experiments": [{"repository": "examples", "model": "mnist", "mode": "default"}]}, 0, "writes 'repository'"),
    # ignored, as the seed ignored them
    ({"experiments": [{"mode": "parallel", "repo": "examples", "model": "placeholder", "foreground": FG,
                       "background": BG}]}, 1, "differing from the foreground: examples/placeholder"),
    ({"experiments": [{"mode": "parallel", "foreground": FG, "background": {**BG, "mutate": ["epochs"]}}]}, 1,
     "background 'mutate': ignored"),
    ({"experiments": [{"repo": "examples", "model": "mnist", "mutate": ["epochs"], "mutate_params": ["seed"]}]}, 1,
     "'mutate' beside it counts"),
    ({"experiments": [{"mode": "parallel", "foreground": {**FG, "hyperparameters": {"epoch": 1}}, "background": BG}]},
     1, "epoch on examples/mnist_ff (did you mean 'epochs'?)"),
    ({"experiments": [{"repo": "examples", "model": "mnist", "mutate": ["epochs"], "hyperparameters": {"seed": 3}}]},
     1, "fixed values beside a mutation: dropped"),
    ({"global_settings": {}, "experiments": [{**FG, "timeout": 5}]}, 1, "'timeout'"),
])
def test_what_the_seed_ignored_or_skipped_is_a_note(tmp_path, data, planned, note):
    if planned == 0:
        err = _err(tmp_path, data)
        assert err.key is None and "nothing to run" in err.reason and note in err.reason, str(err)
        return
    loaded = _load(tmp_path, data)
    assert len(expand(loaded).experiments) == planned
    assert any(note in n for n in loaded.notes), loaded.notes
    with pytest.raises(ConfigError, match="--strict"):
        load_plan(tmp_path / "settings.json", Registry.builtin(), strict=True)


def test_nulls_mean_absent(tmp_path):
    plan = _load(tmp_path, {"experiment_name": None, "description": None, "runs_per_config": None, "seed": None,
                            "max_retries": None, "governor": None,
                            "experiments": [{**FG, "runs_per_config": None, "max_retries": None,
                                             "hyperparameters": {"epochs": None}, "note": None}]}).plan
    assert plan.name == "settings" and plan.description == "" and plan.seed == 0  # was named "None"
    assert plan.experiments[0].repeats == 1 and plan.experiments[0].hyperparameters == {}


# --------------------------------------------------------------------------------- models_config
def _models(tmp_path: Path, **repo: object) -> Path:
    (tmp_path / "repos" / "r").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "models_config.json"
    base = {"path": "repos/r", "train_script": "./train.sh", "models": ["m"], "model_flag": "-n"}
    path.write_text(json.dumps({"models": {"r": {**base, **repo}}}))
    return path


def test_seed_arguments_with_braces_are_literal(tmp_path):
    reg = load_registry([_models(tmp_path, required_args={"cfg": "--json '{\"a\": 1}' --fmt {x}"})])
    assert build_argv(resolve(reg.get("r/m"), {})) == ["./train.sh", "-n", "m", "--json", '{"a": 1}', "--fmt", "{x}"]


def test_null_flag_takes_the_seed_default(tmp_path):
    reg = load_registry([_models(tmp_path, supported_hyperparams={"lr": {"flag": None, "type": "float"}})])
    assert reg.get("r/m").hyperparameters["lr"].flag == "--lr"


@pytest.mark.parametrize("repo, key, reason", [
    ({"path": None}, "models.r.path", "non-empty string"),  # became a folder named "None"
    ({"path": "a\u0000b"}, "models.r.path", "NUL"),  # internal error
    ({"train_script": None}, "models.r.train_script", "non-empty string"),  # argv ["None"]
    ({"train_script": ["./train.sh"]}, "models.r.train_script", "non-empty string"),
    ({"model_flag": 5}, "models.r.model_flag", "must be a string"),
    ({"required_args": {"d": None}}, "models.r.required_args.d", "string of arguments"),  # argument "None"
    ({"performance_metrics": ["x"]}, "models.r.performance_metrics", "JSON object"),  # internal error
    ({"performance_metrics": {"log_patterns": {}, "flags": "i"}}, "models.r.performance_metrics.flags",
     "unknown key"),  # silently ignored
    ({"performance_metrics": {"log_patterns": {"acc": "("}}}, "models.r.performance_metrics.log_patterns.acc",
     "does not compile"),  # was models.r.metrics.patterns.acc.regex
    ({"supported_hyperparams": {"lr": {"type": "double"}}}, "models.r.supported_hyperparams.lr.type",
     "'int', 'float'"),  # was models.r.hyperparameters.lr.type
    ({"models": ["m", "m"]}, "models.r.models[1]", "listed twice"),
])
def test_bad_models_config_names_the_seed_key(tmp_path, repo, key, reason):
    with pytest.raises(ConfigError) as info:
        load_registry([_models(tmp_path, **repo)])
    assert info.value.key == key, str(info.value)
    assert reason in info.value.reason, str(info.value)


def test_two_seed_repositories_for_one_of_ours_collide(tmp_path):
    (tmp_path / "p").mkdir()
    spec = {"path": "p", "train_script": "./t.sh", "models": ["pcb"]}
    path = tmp_path / "models_config.json"
    path.write_text(json.dumps({"models": {"Person_reID_baseline_pytorch": spec, "Person_reID": spec}}))
    with pytest.raises(ConfigError, match="Person_reID/pcb is declared by models.Person_reID_baseline_pytorch too"):
        load_registry([path])


def test_settings_file_given_as_workloads_is_named(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"experiments": [FG]}))
    with pytest.raises(ConfigError, match="seed settings file"):
        load_registry([path])


def test_seed_plan_expands(tmp_path):
    loaded = _load(tmp_path, {"runs_per_config": 2, "experiments": [{"repo": "examples", "model": "mnist"}]})
    assert len(expand(loaded).experiments) == 2


def test_numbers_as_strings_in_seed_hyperparameters(tmp_path):
    plan = _load(tmp_path, {"experiments": [{"repo": "examples", "model": "mnist", "mode": "default",
                                             "hyperparameters": {"epochs": "10.0", "batch_size": "1e2",
                                                                 "learning_rate": "0.01"}}]})
    setting = expand(plan).experiments[0].foreground  # "10.0" for an int was an error, 10.0 was not
    assert setting.typed()["epochs"] == 10 and setting.typed()["batch_size"] == 100
    assert setting.args()["epochs"] == "10" and setting.args()["learning_rate"] == "0.01"


def test_an_error_after_a_skipped_entry_names_the_file_entry(tmp_path):
    big = {"repo": "examples", "model": "mnist", "mutate": ["learning_rate"], "runs_per_config": 60000}
    err = _err(tmp_path, {"experiments": [{"repository": "examples", "model": "mnist"}, big, dict(big)]})
    assert err.key == "experiments[2]" and "100,000" in err.reason, str(err)  # the plan's experiments[1]
    err = _err(tmp_path, {"experiments": [{"repository": "x"}, {**big, "mode": "default", "runs_per_config": 20000}]})
    assert err.key == "experiments[1].runs_per_config", str(err)


def test_entry_runs_per_config_wins_over_the_foreground_s(tmp_path):
    loaded = _load(tmp_path, {"runs_per_config": 1, "experiments": [
        {"mode": "parallel", "runs_per_config": 3, "foreground": {**FG, "runs_per_config": 2}, "background": BG},
        {"mode": "parallel", "foreground": {**FG, "runs_per_config": 2}, "background": {**BG, "mutate_params": ["x"]}}]})
    assert [e.repeats for e in loaded.plan.experiments] == [3, 2]
    assert any("the entry's counts" in n and "experiments[0]" in n for n in loaded.notes)
    assert any("background 'mutate_params'" in n and "experiments[1]" in n for n in loaded.notes)
