"""Hyperparameter values: seeded sampling per distribution and the exact strings passed to trainings.

A value always travels as a `Value`: the text put on the command line and the typed value parsed
back from that very text, so what is recorded is exactly what ran (no silent rounding).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from hyperwatt.config.workload import HyperParam, Scalar, coerce

#: Significant digits kept when a sampled float is written out.
SAMPLED_FLOAT_DIGITS = 6


@dataclass(frozen=True)
class Value:
    text: str
    typed: Scalar


def from_text(param: HyperParam, text: str) -> Value:
    return Value(text, coerce(param, text))


def literal(param: HyperParam, value: Scalar) -> Value:
    """A value given by a user or a default, written without losing precision."""
    typed = coerce(param, value)
    if isinstance(typed, bool):
        text = "true" if typed else "false"
    elif isinstance(typed, float):
        text = repr(typed) if param.decimals is None else f"{typed:.{param.decimals}f}"
    else:
        text = str(typed)
    return from_text(param, text)


def sample(param: HyperParam, rng: random.Random) -> Value:
    """One draw from the parameter's distribution, inside its range."""
    if param.zero_probability and rng.random() < param.zero_probability:
        return literal(param, 0)
    if param.distribution == "choice":
        assert param.values is not None
        return literal(param, rng.choice(param.values))
    if param.type == "bool":
        return literal(param, rng.random() < 0.5)
    if param.range is None:
        raise ValueError("parameter has no range to sample from")
    lo, hi = param.range
    if param.type == "int":
        return literal(param, _sample_int(param, lo, hi, rng))
    if param.distribution == "log_uniform":
        x = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        x = rng.uniform(lo, hi)
    return _rounded_float(param, x, lo, hi)


def _sample_int(param: HyperParam, lo: float, hi: float, rng: random.Random) -> int:
    ilo, ihi = math.ceil(lo), math.floor(hi)
    if ilo > ihi:
        raise ValueError(f"range [{lo:g}, {hi:g}] holds no integer")
    if param.distribution == "log_uniform":
        # each integer k gets the log-measure of [k, k+1)
        k = math.floor(math.exp(rng.uniform(math.log(ilo), math.log(ihi + 1))))
        return min(max(k, ilo), ihi)
    return rng.randint(ilo, ihi)


def _rounded_float(param: HyperParam, x: float, lo: float, hi: float) -> Value:
    if param.decimals is not None:  # written with fixed decimals (the seed's %.6f), as passed
        return literal(param, min(max(x, lo), hi))
    text = f"{x:.{SAMPLED_FLOAT_DIGITS}g}"
    if not any(c in text for c in ".e"):
        # "%g" writes 2.0000001 and 850859.3 as integers; a float stays recognisably a float
        # for scripts that infer the type from the text (nanoGPT's literal_eval, YAML, JSON)
        text += ".0"
    value = float(text)
    if value < lo:
        return literal(param, lo)
    if value > hi:
        return literal(param, hi)
    return from_text(param, text)


def cardinality(param: HyperParam) -> float:
    """How many distinct values sampling can yield (inf for continuous ranges)."""
    extra = 1 if param.zero_probability else 0
    if param.distribution == "choice":
        return len({repr(coerce(param, v)) for v in param.values or []}) + extra
    if param.type == "bool":
        return 2
    if param.range is None:
        return 0
    if param.type == "int":
        return max(0, math.floor(param.range[1]) - math.ceil(param.range[0]) + 1) + extra
    return math.inf
