"""A plan's `search` block: what loads, and hostile blocks refused in one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperwatt.config import Registry, load_plan
from hyperwatt.errors import ConfigError

PLAN = '''
name = "s"
[[experiments]]
workload = "examples/mnist"
hyperparameters = {{ size = "tiny" }}
search = {{ {search} }}
'''


def load(tmp_path: Path, search: str):
    path = tmp_path / "plan.toml"
    path.write_text(PLAN.format(search=search))
    return load_plan(path, Registry.builtin())


def test_a_search_block_loads_with_defaults(tmp_path: Path):
    spec = load(tmp_path, 'parameters = ["learning_rate", "batch_size"], trials = 12').plan.experiments[0].search
    assert spec is not None and spec.trials == 12 and spec.objectives == ["gpu_energy_j:min"]
    assert spec.sampler is None and spec.constraints == [] and spec.energy_budget_kj is None
    full = load(tmp_path, 'parameters = ["learning_rate"], trials = 40, sampler = "nsga2", energy_budget_kj = 50, '
                'objectives = ["gpu_energy_j:min", "test_accuracy:max"], '
                'constraints = ["test_accuracy >= 0.98 * default", "test_loss <= 1e1"]').plan.experiments[0].search
    assert full is not None and full.sampler == "nsga2" and full.energy_budget_kj == 50


@pytest.mark.parametrize("search, names", [
    ('parameters = [], trials = 5', "parameters"),
    ('parameters = ["learning_rate"], trials = 0', "trials"),
    ('parameters = ["learning_rate"], trials = -3', "trials"),
    ('parameters = ["learning_rate"], trials = 5, objectives = ["accuracy:max"]', "'accuracy'"),
    ('parameters = ["learning_rate"], trials = 5, objectives = ["test_accuracy"]', "name:min"),
    ('parameters = ["learning_rate"], trials = 5, objectives = []', "objectives"),
    ('parameters = ["learning_rate"], trials = 5, sampler = "cmaes"', "sampler"),
    ('parameters = ["learning_rat"], trials = 5', "learning_rate"),
    ('parameters = ["size"], trials = 5', "no range or values"),
    ('parameters = ["learning_rate", "learning_rate"], trials = 5', "twice"),
    ('parameters = ["learning_rate"], trials = 5, constraints = ["test_accuracy > 1"]', "constraint"),
    ('parameters = ["learning_rate"], trials = 5, constraints = ["nope >= 0.9"]', "nope"),
    ('parameters = ["learning_rate"], trials = 5, energy_budget_kj = 0', "energy_budget_kj"),
    ('parameters = ["learning_rate"], trials = 5, wat = 1', "wat"),
])
def test_hostile_search_blocks_are_one_line_errors(tmp_path: Path, search: str, names: str):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, search)
    text = str(info.value)
    assert "\n" not in text and "plan.toml" in text and names in text


def test_search_and_mutate_are_exclusive(tmp_path: Path):
    path = tmp_path / "plan.toml"
    path.write_text('name = "s"\n[[experiments]]\nworkload = "examples/mnist"\n'
                    'mutate = { parameters = ["epochs"] }\nsearch = { parameters = ["learning_rate"], trials = 3 }\n')
    with pytest.raises(ConfigError, match="not both"):
        load_plan(path, Registry.builtin())
