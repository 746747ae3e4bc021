"""`hyperwatt compare`: matched settings, differences with intervals, filters, provenance."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hyperwatt.analysis.compare import compare, select
from hyperwatt.analysis.compare_report import compare_command
from hyperwatt.analysis.goals import registry_goals
from hyperwatt.analysis.rows import registry_defaults
from hyperwatt.errors import ConfigError

from .factories import record
from .synthetic import imported, study
from .test_findings import interaction_law
from .test_findings_report import _store


def scaled(factor):
    return lambda mode, hp: factor * interaction_law(mode, hp)


def test_planted_ten_percent_more_energy() -> None:
    a = study(interaction_law, {"epochs": [10, 2, 5]}, seed=1)
    b = study(scaled(1.1), {"epochs": [10, 2, 5, 40]}, seed=2)
    c = compare(a, b, registry_defaults(), registry_goals())
    assert len(c.matched) == 6 and c.only_b == 2 and c.only_a == 0  # epochs=40 in both modes, B only
    change, lo, hi, n = c.overall()
    assert n == 6 and change == pytest.approx(0.10, abs=0.01) and lo < 0.10 < hi
    default = next(m for m in c.matched if m.setting == "default" and m.mode == "sequential")
    d, dlo, dhi = default.energy_change
    assert d == pytest.approx(0.10, abs=0.03) and dlo < d < dhi
    assert not c.mixed_methods and "+10" in c.verdict


def test_settings_seen_once_have_no_interval_and_methods_are_said() -> None:
    a = [record(hp={"epochs": 10}, gpu_j=100.0)]
    b = [imported(record(hp={"epochs": 10}, gpu_j=80.0))]
    c = compare(a, b, registry_defaults(), registry_goals())
    (m,) = c.matched
    assert m.energy_change == pytest.approx((-0.2, None, None))
    assert c.mixed_methods and "different energy methods" in c.verdict


def test_nothing_matched() -> None:
    c = compare([record(hp={"epochs": 10})], [record(hp={"epochs": 20}, mutated=("epochs",))],
                registry_defaults(), registry_goals())
    assert c.matched == [] and c.overall() is None and "no setting was measured on both sides" in c.verdict


def test_filters() -> None:
    recs = [record(session="s1", mode="parallel", background="x/y"), record(session="s2"),
            record(session="s2", workload="examples/mnist_ff")]
    assert select(recs, ["s1", "s2"], "s1", "db") == recs[:1]
    assert select(recs, ["s1", "s2"], "session=s2,workload=examples/mnist", "db") == recs[1:2]
    assert select(recs, ["s1", "s2"], "gpu=*h100*,mode=sequential", "db") == recs[1:]
    assert select(recs, ["s1", "s2"], "method=nvml-energy-counter,background=x/*", "db") == recs[:1]
    recs[2].environment["torch"] = "2.5.1+cu124"
    assert select(recs, ["s1", "s2"], "driver=550.*,torch=2.5*", "db") == recs[2:]
    for spec, needle in (("s9", "neither a session"), ("colour=red", "filter keys are"), ("session=s9", "no experiment")):
        with pytest.raises(ConfigError, match=needle) as err:
            select(recs, ["s1", "s2"], spec, "db")
        assert "\n" not in str(err.value)


def test_command_writes_html_and_json(tmp_path: Path) -> None:
    _store(tmp_path, {"s1": study(interaction_law, {"epochs": [10, 2]}, seed=1),
                      "s2": study(scaled(0.8), {"epochs": [10, 2]}, seed=2)})
    result = compare_command("s1", "s2", tmp_path)
    assert result.html == tmp_path / "compare.html" and len(result.rows) == 4
    html = result.html.read_text()
    assert re.search(r"B uses −(19|20)\.\d%", html) and "energy change per matched setting" in html
    assert not re.search(r"(src|href)=\"https?:", html)
    data = json.loads(result.json.read_text())
    assert data["overall"]["settings"] == 4 and data["overall"]["energy_change"] == pytest.approx(-0.2, abs=0.02)
    with pytest.raises(ConfigError, match="nowhere: no such folder"):
        compare_command("s1", "s2", tmp_path / "nowhere")
