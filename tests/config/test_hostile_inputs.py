"""Hostile and unusual inputs: each gives a valid plan or one line naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperwatt.config import Registry, load_plan, load_registry
from hyperwatt.errors import ConfigError
from config_helpers import one_line_error

GOOD = '[[experiments]]\nworkload = "examples/mnist"\n'


def _err(path: Path, registry: Registry | None = None) -> ConfigError:
    return one_line_error(load_plan, path, registry or Registry.builtin(), names=str(path))


# ------------------------------------------------------------------------------------------ files
def test_byte_order_mark_is_accepted_in_toml_and_json(tmp_path):
    (tmp_path / "p.toml").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_plan(tmp_path / "p.toml").plan.experiments[0].workload == "examples/mnist"
    (tmp_path / "s.json").write_bytes(b'\xef\xbb\xbf{"experiments": [{"repo": "examples", "model": "mnist"}]}')
    assert load_plan(tmp_path / "s.json").plan.experiments[0].workload == "examples/mnist"


def test_endless_device_is_refused_not_read_forever():
    err = _err(Path("/dev/zero"))
    assert "larger than" in err.reason


# ------------------------------------------------------------------------------------ wrong types
@pytest.mark.parametrize("body, key, reason", [
    ("[timing]\ntimeout_s = true\n" + GOOD, "timing.timeout_s", "boolean"),  # was a 1 s timeout
    (GOOD + "repeats = true\n", "experiments[0].repeats", "boolean"),
    ("seed = false\n" + GOOD, "seed", "boolean"),
    ("[sensors]\ngpus = [true]\n" + GOOD, "sensors.gpus", "boolean"),
    ("[sensors]\ngpus = [0, 0]\n" + GOOD, "sensors.gpus", "listed twice"),  # two slots on one GPU
    ("[sensors]\ngpus = [-1]\n" + GOOD, "sensors.gpus", "0 or more"),
    (GOOD + 'include_default = "yes"\n', "experiments[0].include_default", "true or false"),
    ("[preflight]\nmin_free_disk_mib = inf\n" + GOOD, "preflight.min_free_disk_mib", "finite"),
    ('[workloads."a/b"]\nargv = ["x"]\nestimated_duration_s = inf\n' + GOOD,  # OverflowError at plan
     'workloads."a/b".estimated_duration_s', "finite"),
    ('[workloads."a/b"]\nargv = ["x"]\nmin_run_s = inf\n' + GOOD, 'workloads."a/b".min_run_s', "finite"),
    ('[workloads."a/b"]\nargv = ["x"]\nmetrics = { patterns = { a = { regex = "(1)", scale = nan } } }\n' + GOOD,
     'workloads."a/b".metrics.patterns.a.scale', "finite"),
    ('[workloads."a/b"]\nargv = ["x"]\nmetrics = { file = "no" }\n' + GOOD, 'workloads."a/b".metrics.file',
     "true or false"),
    ('[workloads."a/b"]\nargv = ["x"]\n[workloads."a/b".hyperparameters]\n'
     'lr = { flag = "--lr", type = "float", range = [true, false] }\n' + GOOD,
     'workloads."a/b".hyperparameters.lr.range', "boolean"),
])
def test_booleans_and_non_finite_numbers_are_refused(tmp_path, body, key, reason):
    path = tmp_path / "plan.toml"
    path.write_text(body)
    err = _err(path)
    assert err.key == key, str(err)
    assert reason in err.reason, str(err)


@pytest.mark.parametrize("value, got", [("-1", "(got -1)"), ('"abc"', "(got 'abc')"), ("1e20", "(got 1e+20)")])
def test_a_value_no_member_of_a_union_takes_is_one_problem_on_its_key(tmp_path, value, got):
    """`timeout_s` takes seconds or "auto"/"none": a bad value is one line naming the key and every
    form it could take, not one line per union member with pydantic's internal type names."""
    path = tmp_path / "plan.toml"
    path.write_text(f"[timing]\ntimeout_s = {value}\n" + GOOD)
    err = _err(path)
    assert err.key == "timing.timeout_s", str(err)
    assert "'auto' or 'none'" in err.reason and err.reason.endswith(got), str(err)
    assert "constrained" not in str(err) and err.reason.count("(got") == 1, str(err)


def test_numbers_as_strings_and_booleans_as_values_still_load(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text('[timing]\ntimeout_s = "60"\n' + GOOD + 'repeats = "2"\nhyperparameters = { epochs = "3" }\n')
    plan = load_plan(path).plan
    assert plan.timing.timeout_s == 60.0 and plan.experiments[0].repeats == 2


# ------------------------------------------------------------------------- workload declarations
WL = '[workloads."a/b"]\n'


@pytest.mark.parametrize("body, key, reason", [
    ('argv = ["x"]\nworkdir = "a\\u0000b"\n', 'workloads."a/b".workdir', "NUL"),  # was an internal error
    ('argv = ["x", "a\\u0000b"]\n', 'workloads."a/b".argv', "NUL"),  # failed only at run
    ('argv = [""]\n', 'workloads."a/b".argv', "argv[0] is empty"),
    ('argv = ["x"]\nenv = { "A=B" = "1" }\n', 'workloads."a/b".env', "without '='"),
    ('argv = ["x"]\nenv = { "" = "1" }\n', 'workloads."a/b".env', "non-empty"),
    ('argv = ["x"]\nenv = { A = "\\u0000" }\n', 'workloads."a/b".env', "NUL"),
    ('argv = ["x"]\nhyperparameters = { bs = { flag = "--bs", type = "int", range = [1.2, 1.8] } }\n',
     'workloads."a/b".hyperparameters.bs', "holds no integer"),  # was an internal error at expansion
])
def test_workload_values_no_training_could_start_with_are_refused(tmp_path, body, key, reason):
    path = tmp_path / "plan.toml"
    path.write_text(WL + body + GOOD)
    err = _err(path)
    assert err.key == key, str(err)
    assert reason in err.reason, str(err)


@pytest.mark.parametrize("body, key", [
    ('[workloads."a/b"]\n"[" = false\n' + GOOD, 'workloads."a/b".['),  # was an IndexError (internal error)
    (GOOD + '"int" = 1\n', "experiments[0].int"),  # a key named like a type was dropped from the message
])
def test_unknown_keys_that_look_like_type_tags_are_named(tmp_path, body, key):
    path = tmp_path / "plan.toml"
    path.write_text(body)
    err = _err(path)
    assert err.key == key and "unknown key" in err.reason, str(err)


@pytest.mark.parametrize("ch", ["\r", "\x0b", "\x0c", "\x1b", "\x1c", "\x1e", "\x85", "\u2028", "\u2029"])
def test_a_line_break_or_control_character_in_a_key_stays_on_one_line(tmp_path, ch):
    from hyperwatt.config import Registry, load_plan
    from hyperwatt.errors import ConfigError

    plan = tmp_path / "plan.toml"
    plan.write_text(f'name = "p"\n[[experiments]]\nworkload = "examples/mnist"\n'
                    f'hyperparameters = {{ "e{ch}x" = 2 }}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_plan(plan, Registry.builtin())
    text = str(info.value)
    assert len(text.splitlines()) == 1 and ch not in text and repr(ch)[1:-1] in text


def test_a_workdir_under_home_is_expanded_not_taken_as_a_folder_named_tilde(tmp_path, monkeypatch):
    """`workdir = "~/lab/repo"` named `<plan folder>/~/lab/repo`, which does not exist."""
    home = tmp_path / "home"
    (home / "lab" / "repo").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    (tmp_path / "plans").mkdir()
    path = tmp_path / "plans" / "plan.toml"
    path.write_text('[workloads."lab/repo"]\nargv = ["x"]\nworkdir = "~/lab/repo"\n'
                    '[[experiments]]\nworkload = "lab/repo"\n')
    loaded = load_plan(path, Registry.builtin())
    (workload,) = [w for w in loaded.workloads if w.name == "lab/repo"]
    assert workload.workdir == (home / "lab" / "repo").resolve()


@pytest.mark.parametrize("name", ["étude", "lr study", "-x"])
def test_a_refused_plan_name_is_told_what_is_allowed_exactly(tmp_path, name):
    """`étude` was refused as not made of "letters": it is, just not ASCII ones."""
    path = tmp_path / "plan.toml"
    path.write_text(f'name = "{name}"\n' + GOOD)
    err = _err(path)
    assert err.key == "name" and "ASCII letters" in err.reason and "starting with a letter" in err.reason, str(err)


def test_a_workloads_file_given_as_the_plan_says_to_pass_it_with_w(tmp_path):
    path = tmp_path / "workloads.toml"
    path.write_text('[workloads."lab/x"]\nargv = ["x"]\n')
    err = _err(path)
    assert err.key == "experiments" and "only [workloads] tables" in err.reason and "-W" in err.reason, str(err)
