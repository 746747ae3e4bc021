"""Shapes met in the acceptance run on all of the seed's real settings files (docs/migration.md) that
the other seed tests do not build: a file whose top level is a list, and entries that write
`mutation_type` (a key the seed's runner never read) instead of `mode`."""

from __future__ import annotations

import json
from pathlib import Path

from hyperwatt.config import load_plan, load_registry
from hyperwatt.errors import ConfigError
from hyperwatt.mutation import expand
from config_helpers import one_line_error

MODELS = Path(__file__).parent / "data" / "seed_real" / "models_config.json"


def _load(tmp_path: Path, data: object):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return load_plan(path, load_registry([MODELS]))


def test_a_top_level_list_of_entries_is_one_line_exit_2(tmp_path):
    entry = {"repo": "examples", "model": "mnist", "mode": "mutation", "runs_per_config": 6,
             "mutate_strategy": "random_multi_param", "num_params_per_mutation": [1, 3]}
    err = one_line_error(_load, tmp_path, [entry, dict(entry, model="mnist_rnn")], names="settings.json")
    assert isinstance(err, ConfigError) and err.exit_code == 2
    assert "'experiments'" in str(err)


def test_mutation_type_entries_run_as_the_seed_read_them(tmp_path):
    """No `mode` anywhere: every entry ran the mutation branch; `mutation_type`, `mutate_params` (a
    table of ranges) and `global_settings` were never read; a parallel entry without its own
    `repo` failed (KeyError) and was skipped."""
    loaded = _load(tmp_path, {
        "global_settings": {"runs_per_config": 1, "use_deduplication": True},
        "experiments": [
            {"repo": "VulBERTa", "model": "mlp", "runs_per_config": 3, "mutation_type": "default"},
            {"repo": "VulBERTa", "model": "mlp", "runs_per_config": 2, "mutation_type": "mutation",
             "mutate_params": {"epochs": {"distribution": "log_uniform", "min": 5, "max": 20}}},
            {"mutation_type": "parallel", "runs_per_config": 2,
             "foreground": {"repo": "VulBERTa", "model": "mlp", "mutation_type": "default"},
             "background": {"repo": "examples", "model": "mnist"}},
        ]})
    planned = expand(loaded).experiments
    assert len(planned) == 5
    assert all(e.mode == "sequential" and e.workload.name == "VulBERTa/mlp" for e in planned)
    assert all(set(e.mutated) == {"epochs", "learning_rate", "seed", "weight_decay"} for e in planned)
    notes = " | ".join(loaded.notes)
    assert "mutation_type" in notes and "global_settings" in notes and "experiments[2]" in notes
