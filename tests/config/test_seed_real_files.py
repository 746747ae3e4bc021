"""Real settings files of the seed system (tests/config/data/seed_real, taken unchanged from its public
repository): each plans exactly the trainings the seed's runner started, with the same modes and
mutated parameters, and says what it ignored, skipped or reinterpreted."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperwatt.config import load_plan, load_registry
from hyperwatt.errors import ConfigError
from hyperwatt.mutation import expand

REAL = Path(__file__).parent / "data" / "seed_real"
#: file -> trainings the seed started (README_seed_formats.md; mixed_mode_demo and boundary_test_v2,
#: taken from the same repository, counted by hand)
SEED_COUNTS = {
    "stage9_nonparallel_hrnet18.json": 20, "stage2_fast_models_parallel.json": 16,
    "mutation_2x_supplement.json": 16, "stage13_merged_final_supplement.json": 90, "default.json": 13,
    "parallel_feasibility_test.json": 12, "optimized_mutation_v1.json": 0, "mixed_mode_demo.json": 3,
    "boundary_test_v2.json": 12,
}


def _load(name: str, **kw):
    return load_plan(REAL / "settings" / name, load_registry([REAL / "models_config.json"]), **kw)


@pytest.mark.parametrize("name, count", sorted(SEED_COUNTS.items()))
def test_each_real_file_plans_the_seed_count(name, count):
    if count == 0:
        with pytest.raises(ConfigError) as info:
            _load(name)
        assert info.value.exit_code == 2 and "nothing to run" in str(info.value) and "\n" not in str(info.value)
        assert "writes 'repository'" in str(info.value)
        return
    assert len(expand(_load(name)).experiments) == count


def test_modes_and_mutated_parameters_per_entry():
    # stage9: mode "nonparallel" ran the mutation branch; mutate_params unread: every parameter mutated
    plan = _load("stage9_nonparallel_hrnet18.json").plan
    assert [(e.mode, e.mutate.parameters, e.mutate.mutations) for e in plan.experiments] == \
        [("sequential", ["epochs", "learning_rate", "seed", "dropout"], 5)] * 4
    # ... and as its author meant it, one parameter each
    plan = _load("stage9_nonparallel_hrnet18.json", seed_compat="intended").plan
    assert [e.mutate.parameters for e in plan.experiments] == [["epochs"], ["learning_rate"], ["seed"], ["dropout"]]
    # stage2: parallel entries with repo/model beside the foreground, one parameter each
    planned = expand(_load("stage2_fast_models_parallel.json")).experiments
    assert {p.mode for p in planned} == {"parallel"} and planned[0].background.workload.name == "examples/siamese"
    assert [p.mutated for p in planned[:4]] == [("batch_size",), ("epochs",), ("learning_rate",), ("seed",)]
    # mutation_2x: top-level "batch" ran the mutation branch; the default entry ran its (absent) fixed values
    plan = _load("mutation_2x_supplement.json").plan
    assert [e.mutate.parameters if e.mutate else None for e in plan.experiments] == \
        [["kfold"], ["batch_size"], ["batch_size"], ["batch_size"], None, ["epochs"], ["learning_rate"], ["seed"]]
    assert plan.experiments[4].hyperparameters == {}  # fixed_hyperparams: a key the seed never read
    # stage13: 3 separators skipped; parallel and sequential entries both
    planned = expand(_load("stage13_merged_final_supplement.json")).experiments
    assert {p.mode for p in planned} == {"parallel", "sequential"}


def test_fixed_values_the_model_lacks_are_dropped_and_said():
    loaded = _load("default.json")
    bug = next(e for e in loaded.plan.experiments if e.workload.startswith("bug-localization"))
    assert "epochs" not in bug.hyperparameters
    assert any("epochs on bug-localization-by-dnn-and-rvsm/default" in n for n in loaded.notes)
    assert any("unknown workload" in n and "experiments[11, 13]" in n for n in loaded.notes)
    feas = _load("parallel_feasibility_test.json")
    assert any("fixed values the model does not have" in n for n in feas.notes)


@pytest.mark.parametrize("name, refused", [
    ("stage9_nonparallel_hrnet18.json", True), ("stage2_fast_models_parallel.json", True),
    ("default.json", True), ("mixed_mode_demo.json", False),
])
def test_strict_refuses_files_that_need_reinterpreting(name, refused):
    if not refused:
        assert _load(name, strict=True).notes == ()
        return
    with pytest.raises(ConfigError, match="--strict") as info:
        _load(name, strict=True)
    assert "\n" not in str(info.value)


def test_floats_are_passed_as_the_seed_wrote_them():
    from hyperwatt.engine.command import build_argv

    planned = expand(_load("mixed_mode_demo.json")).experiments
    args = build_argv(planned[0].foreground)
    assert args[args.index("--wd") + 1] == "0.000100" and args[args.index("--lr") + 1] == "0.100000"
    args = build_argv(planned[1].foreground)
    lr = args[args.index("--lr") + 1]
    assert len(lr.split(".")[1]) == 6  # "%.6f"
    exact = expand(_load("mixed_mode_demo.json", seed_compat="intended")).experiments
    args = build_argv(exact[0].foreground)
    assert args[args.index("--wd") + 1] == "0.0001"


def test_log_patterns_match_case_insensitively_as_the_seed_compiled_them():
    import re

    pattern = load_registry([REAL / "models_config.json"]).get("examples/mnist").metrics.patterns["test_accuracy"]
    assert pattern.regex.startswith("(?i)")
    found = re.search(pattern.regex, "[success] TEST ACCURACY: 97.5%")
    assert found and found.group(1) == "97.5"
