"""Emissions from energy: energy × PUE × grid carbon intensity, with where each factor came from.

Kept apart from every energy figure: the report shows grams CO2e in their own section only.
Each factor is taken from the first of: the command line, the environment
(`HYPERWATT_CARBON_INTENSITY`, `HYPERWATT_PUE`), the plan's `[carbon]` table, the default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperwatt.errors import ConfigError

#: World-average carbon intensity of electricity generation in 2023 (Ember, Global Electricity Review 2024).
WORLD_INTENSITY_G_PER_KWH = 480.0
WORLD_SOURCE = "world average 2023, Ember Global Electricity Review 2024 (default)"
#: The device energy itself, no facility overhead (set the site's PUE to include cooling and power delivery).
DEFAULT_PUE = 1.0
ENV_INTENSITY = "HYPERWATT_CARBON_INTENSITY"
ENV_PUE = "HYPERWATT_PUE"
J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class CarbonFactors:
    intensity_g_per_kwh: float
    intensity_source: str
    pue: float
    pue_source: str

    def grams(self, energy_j: float) -> float:
        """Grams CO2e of an energy at the facility (energy × PUE)."""
        return energy_j / J_PER_KWH * self.pue * self.intensity_g_per_kwh

    @property
    def text(self) -> str:
        return (f"{self.intensity_g_per_kwh:g} g CO2e/kWh ({self.intensity_source}) × PUE {self.pue:g} "
                f"({self.pue_source})")


def _number(raw: str, name: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError("<environment>", name, f"{raw!r} is not a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError("<environment>", name, f"{value:g} is outside [{low:g}, {high:g}]")
    return value


def resolve(intensity: float | None = None, pue: float | None = None,
            plans: Sequence[tuple[Path, Mapping[str, Any]]] = (),
            env: Mapping[str, str] | None = None) -> CarbonFactors:
    """The factors, each from the command line, else the environment, else the first plan setting it, else the default.

    `plans`: (plan file, its `[carbon]` table) of the sessions reported on.
    """
    env = os.environ if env is None else env
    i_value, i_source = WORLD_INTENSITY_G_PER_KWH, WORLD_SOURCE
    p_value, p_source = DEFAULT_PUE, "default: device energy, no facility overhead"
    for path, table in reversed(list(plans)):  # the first plan wins
        if table.get("intensity_g_per_kwh") is not None:
            i_value = float(table["intensity_g_per_kwh"])
            i_source = f"{table.get('source') or 'plan'} ({path}: carbon.intensity_g_per_kwh)"
        if table.get("pue") is not None:
            p_value, p_source = float(table["pue"]), f"{path}: carbon.pue"
    if env.get(ENV_INTENSITY):
        i_value, i_source = _number(env[ENV_INTENSITY], ENV_INTENSITY, 0, 5_000), f"environment {ENV_INTENSITY}"
    if env.get(ENV_PUE):
        p_value, p_source = _number(env[ENV_PUE], ENV_PUE, 1.0, 5.0), f"environment {ENV_PUE}"
    if intensity is not None:
        if not (math.isfinite(intensity) and 0 <= intensity <= 5_000):
            raise ConfigError("<command line>", "--carbon-intensity", f"{intensity:g} is outside [0, 5000] g/kWh")
        i_value, i_source = intensity, "command line --carbon-intensity"
    if pue is not None:
        if not (math.isfinite(pue) and 1.0 <= pue <= 5.0):
            raise ConfigError("<command line>", "--pue", f"{pue:g} is outside [1, 5]")
        p_value, p_source = pue, "command line --pue"
    return CarbonFactors(i_value, i_source, p_value, p_source)
