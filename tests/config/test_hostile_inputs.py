"""Hostile and unusual inputs: each gives a valid plan or one line naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperwatt.config import Registry, load_plan, load_registry
from hyperwatt.errors import ConfigError

GOOD = '[[experiments]]\nworkload = "examples/mnist"\n'


def _err(path: Path, registry: Registry | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_plan(path, registry or Registry.builtin())
    err = info.value
    assert "\n" not in str(err) and str(path) in str(err)
    return err


# ------------------------------------------------------------------------------------------ files
def test_byte_order_mark_is_accepted_in_toml_and_json(tmp_path):
    (tmp_path / "p.toml").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_plan(tmp_path / "p.toml").plan.experiments[0].workload == "examples/mnist"
    (tmp_path / "s.json").write_bytes(b'\xef\xbb\xbf{"experiments": [{"repo": "examples", "model": "mnist"}]}')
    assert load_plan(tmp_path / "s.json").plan.experiments[0].workload == "examples/mnist"


def test_endless_device_is_refused_not_read_forever():
    err = _err(Path("/dev/zero"))
    assert "larger than" in err.reason
