"""Synthetic code tokens: layout, determinism, balance, and labels that follow the documented rule."""

from __future__ import annotations

import numpy as np
import torch

from hyperwatt.workloads.data import synthetic_code_tokens, vulnerable
from hyperwatt.workloads.data.code_tokens import BOS, EOS, GUARDS, LABEL_NOISE, PAD, SINKS


def test_layout_of_each_sequence() -> None:
    data = synthetic_code_tokens(300, 100, 40, 300)
    assert data.train_tokens.shape == (300, 40) and data.test_tokens.shape == (100, 40)
    for row in torch.cat([data.train_tokens, data.test_tokens]).numpy():
        assert row[0] == BOS
        end = int(np.flatnonzero(row == EOS)[0])
        assert 40 // 2 < end + 1 <= 40
        assert np.all(row[end + 1:] == PAD) and not np.any(row[1:end] == PAD)
        assert row.max() < 300


def test_deterministic() -> None:
    a, b = synthetic_code_tokens(50, 10, 32, 100), synthetic_code_tokens(50, 10, 32, 100)
    assert torch.equal(a.train_tokens, b.train_tokens) and torch.equal(a.train_labels, b.train_labels)


def test_labels_follow_the_rule_up_to_the_stated_noise() -> None:
    data = synthetic_code_tokens(3000, 0, 64, 500)
    tokens, labels = data.train_tokens.numpy(), data.train_labels.numpy()
    rule = np.array([vulnerable(row[1:int(np.flatnonzero(row == EOS)[0])]) for row in tokens])
    disagreement = np.mean(rule != labels)
    assert abs(disagreement - LABEL_NOISE) < 0.02
    assert 0.3 < labels.mean() < 0.7


def test_order_matters_not_just_presence() -> None:
    data = synthetic_code_tokens(2000, 0, 64, 500)
    tokens, labels = data.train_tokens.numpy(), data.train_labels.numpy()
    both = np.array([np.isin(r, SINKS).any() and np.isin(r, GUARDS).any() for r in tokens])
    # among sequences holding both a sink and a guard, both labels are common
    assert 0.2 < labels[both].mean() < 0.8


def test_the_rule_itself() -> None:
    sink, guard, other = int(SINKS[0]), int(GUARDS[0]), 100
    assert vulnerable(np.array([other, sink]))
    assert not vulnerable(np.array([guard, other, other, sink]))
    assert vulnerable(np.array([guard, other, other, other, other, sink]))
    assert not vulnerable(np.array([other, other, guard]))
