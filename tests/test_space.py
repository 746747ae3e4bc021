"""Sampling per distribution (statistical checks with fixed seeds) and exact value strings."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from hyperwatt.config import HyperParam
from hyperwatt.space import cardinality, literal, sample

N = 4000


def _draws(param: HyperParam, seed: int = 1) -> list:
    rng = random.Random(seed)
    return [sample(param, rng) for _ in range(N)]


def test_uniform_float_is_uniform_and_in_range():
    p = HyperParam(flag="--x", type="float", range=(0.5, 1.5))
    values = [v.typed for v in _draws(p)]
    assert min(values) >= 0.5 and max(values) <= 1.5
    assert stats.kstest(values, stats.uniform(loc=0.5, scale=1.0).cdf).pvalue > 0.01


def test_log_uniform_float_is_uniform_in_log_space():
    p = HyperParam(flag="--lr", type="float", range=(1e-5, 1e-1), distribution="log_uniform")
    logs = [math.log10(v.typed) for v in _draws(p)]
    assert min(logs) >= -5 and max(logs) <= -1
    assert stats.kstest(logs, stats.uniform(loc=-5, scale=4).cdf).pvalue > 0.01


def test_uniform_int_covers_every_value_evenly():
    p = HyperParam(flag="--e", type="int", range=(5, 15))
    values = [v.typed for v in _draws(p)]
    counts = [values.count(k) for k in range(5, 16)]
    assert all(isinstance(v, int) for v in values) and set(values) == set(range(5, 16))
    assert stats.chisquare(counts).pvalue > 0.01


def test_log_uniform_int_favours_small_values_by_log_measure():
    p = HyperParam(flag="--b", type="int", range=(16, 128), distribution="log_uniform")
    values = [v.typed for v in _draws(p)]
    assert 16 <= min(values) and max(values) <= 128
    below_45 = sum(v < 45 for v in values) / N  # log-measure of [16, 45) within [16, 129) is ~0.497
    assert abs(below_45 - math.log(45 / 16) / math.log(129 / 16)) < 0.03


def test_choice_and_zero_probability():
    p = HyperParam(flag="--o", type="str", distribution="choice", values=["sgd", "adam", "adamw"])
    values = [v.typed for v in _draws(p)]
    assert stats.chisquare([values.count(k) for k in ("sgd", "adam", "adamw")]).pvalue > 0.01
    wd = HyperParam(flag="--wd", type="float", range=(1e-5, 1e-3), distribution="log_uniform", zero_probability=0.3)
    zeros = sum(v.typed == 0.0 for v in _draws(wd)) / N
    assert abs(zeros - 0.3) < 0.03


def test_same_seed_same_draws():
    p = HyperParam(flag="--lr", type="float", range=(0.01, 0.1), distribution="log_uniform")
    assert [v.text for v in _draws(p, 3)][:50] == [v.text for v in _draws(p, 3)][:50]
    assert [v.text for v in _draws(p, 3)][:50] != [v.text for v in _draws(p, 4)][:50]


def test_recorded_value_is_exactly_the_passed_text():
    p = HyperParam(flag="--lr", type="float", range=(0.001, 0.1), distribution="log_uniform")
    for v in _draws(p)[:500]:
        assert float(v.text) == v.typed and repr(v.typed) == repr(float(v.text))
        assert 0.001 <= v.typed <= 0.1
    assert literal(p, 3e-5).text == "3e-05" and literal(p, 0.1).typed == 0.1
    b = HyperParam(flag="--amp", type="bool")
    assert literal(b, True).text == "true" and literal(b, "false").typed is False


def test_cardinality():
    assert cardinality(HyperParam(flag="-e", type="int", range=(5, 15))) == 11
    assert cardinality(HyperParam(flag="-x", type="float", range=(0, 1))) == math.inf
    assert cardinality(HyperParam(flag="-b", type="bool")) == 2


def test_int_range_without_integers_is_refused_at_declaration():
    # it used to reach sampling, where it was an internal error at `hyperwatt plan`
    with pytest.raises(ValueError, match="no integer"):
        HyperParam(flag="-e", type="int", range=(1.2, 1.8))


def test_sampled_floats_never_look_like_integers():
    # "%.6g" wrote 850859.3 as "850859" and 2.0000001 as "2": nanoGPT's configurator (literal_eval,
    # then `type(new) == type(default)`) rejected them, YAML/JSON parsers read ints
    big = HyperParam(flag="--x", type="float", range=(1e5, 9e5))
    texts = [v.text for v in _draws(big)]
    assert all("." in t or "e" in t for t in texts)
    assert all(float(t) == v.typed for t, v in zip(texts, _draws(big)))
    near_two = HyperParam(flag="--x", type="float", range=(1.9999999, 2.0000001))
    assert {v.text for v in _draws(near_two)[:20]} == {"2.0"}
    small = HyperParam(flag="--lr", type="float", range=(1e-7, 1e-6), distribution="log_uniform")
    assert all("e-" in v.text for v in _draws(small)[:50])  # unchanged: exponent notation
