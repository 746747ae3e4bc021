from pathlib import Path

import pytest

from hyperwatt.analysis.carbon import ENV_INTENSITY, ENV_PUE, WORLD_INTENSITY_G_PER_KWH, resolve
from hyperwatt.errors import ConfigError

PLAN = (Path("s1/plan.toml"), {"intensity_g_per_kwh": 56.0, "pue": 1.2, "source": "RTE France 2024"})


def test_default_is_the_documented_world_average() -> None:
    c = resolve(env={})
    assert c.intensity_g_per_kwh == WORLD_INTENSITY_G_PER_KWH == 480.0 and c.pue == 1.0
    assert "world average" in c.intensity_source and "default" in c.pue_source
    assert c.grams(3.6e6) == pytest.approx(480.0)  # 1 kWh


def test_precedence_command_line_then_environment_then_plan() -> None:
    c = resolve(plans=[PLAN], env={})
    assert (c.intensity_g_per_kwh, c.pue) == (56.0, 1.2) and "RTE France 2024" in c.intensity_source
    assert c.grams(3.6e6) == pytest.approx(56.0 * 1.2)
    c = resolve(plans=[PLAN], env={ENV_INTENSITY: "300", ENV_PUE: "1.5"})
    assert (c.intensity_g_per_kwh, c.pue) == (300.0, 1.5) and ENV_INTENSITY in c.intensity_source
    c = resolve(100.0, 1.1, plans=[PLAN], env={ENV_INTENSITY: "300"})
    assert (c.intensity_g_per_kwh, c.pue) == (100.0, 1.1) and "command line" in c.text


def test_first_plan_wins() -> None:
    other = (Path("s2/plan.toml"), {"intensity_g_per_kwh": 700.0})
    c = resolve(plans=[PLAN, other], env={})
    assert c.intensity_g_per_kwh == 56.0


@pytest.mark.parametrize("kwargs, needle", [
    ({"env": {ENV_INTENSITY: "lots"}}, "not a number"),
    ({"env": {ENV_PUE: "0.5"}}, "outside"),
    ({"intensity": -1.0, "env": {}}, "--carbon-intensity"),
    ({"pue": float("nan"), "env": {}}, "--pue"),
])
def test_bad_factors_are_one_line_errors(kwargs, needle) -> None:
    with pytest.raises(ConfigError, match=needle) as err:
        resolve(**kwargs)
    assert "\n" not in str(err.value)
