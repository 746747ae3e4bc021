"""Synthetic "source code" token sequences with a learnable vulnerability rule, for the VulBERTa workloads.

Token ids follow RoBERTa's conventions: 0 `<s>`, 1 `<pad>`, 2 `</s>`, 3 `<unk>`. Ids 4..11 are
*sink* calls (think `strcpy`), 12..19 are *guard* tokens (think a bounds check); the rest is
ordinary code drawn from a Zipf-like law. A sequence is labelled vulnerable (1) when some sink has
no guard among the `GUARD_WINDOW` tokens before it. Half of the sinks are given a guard, so
telling the classes apart needs order, not just which tokens occur. A fixed `LABEL_NOISE` share of
labels is flipped, which caps attainable accuracy near 1 - LABEL_NOISE as with real data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from hyperwatt.workloads.data.cache import cached

DATA_SEED = 20_251_118
BOS, PAD, EOS, UNK = 0, 1, 2, 3
SINKS = np.arange(4, 12)
GUARDS = np.arange(12, 20)
FIRST_ORDINARY = 20
GUARD_WINDOW = 4
LABEL_NOISE = 0.05
_SINK_COUNTS = np.array([0.25, 0.4, 0.25, 0.1])  # P(0, 1, 2, 3 sinks)
_GUARDED_SHARE = 0.55
_STRAY_GUARDS = 2  # guards placed anywhere, at most


@dataclass(frozen=True)
class TokenSizes:
    train: int
    test: int
    seq_len: int
    vocab: int


SIZES = {"tiny": TokenSizes(train=384, test=128, seq_len=32, vocab=512),
         "small": TokenSizes(16_000, 2_000, 256, 8_192),
         "full": TokenSizes(18_000, 2_250, 512, 50_265)}


@dataclass(frozen=True)
class TokenSet:
    """Padded id sequences (N, L) with `<s>` first and `</s>` after the last token; int64 labels."""

    name: str
    train_tokens: torch.Tensor
    train_labels: torch.Tensor
    test_tokens: torch.Tensor
    test_labels: torch.Tensor
    vocab_size: int

    def describe(self) -> dict[str, object]:
        return {"data": self.name, "train_samples": len(self.train_tokens), "test_samples": len(self.test_tokens),
                "seq_len": self.train_tokens.shape[1], "vocab": self.vocab_size}


def vulnerable(body: np.ndarray) -> bool:
    """The labelling rule on a sequence's tokens (no special tokens): an unguarded sink occurs."""
    for i in np.flatnonzero(np.isin(body, SINKS)):
        if not np.isin(body[max(0, i - GUARD_WINDOW):i], GUARDS).any():
            return True
    return False


def _distinct_positions(rng: np.random.Generator, lengths: np.ndarray, width: int, count: int) -> np.ndarray:
    """Per row, `count` distinct random positions below that row's length (lengths >= count)."""
    keys = rng.random((len(lengths), width))
    keys[np.arange(width)[None, :] >= lengths[:, None]] = np.inf
    return np.argpartition(keys, count, axis=1)[:, :count]


def _place(body: np.ndarray, rows: np.ndarray, cols: np.ndarray, choices: np.ndarray,
           rng: np.random.Generator) -> None:
    body[rows, cols] = rng.choice(choices, size=len(rows))


def _label(body: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The rule, for whole rows at once (same answer as `vulnerable` on each row)."""
    sink = np.isin(body, SINKS) & valid
    guard = np.isin(body, GUARDS) & valid
    guarded = np.zeros_like(guard)
    for d in range(1, GUARD_WINDOW + 1):
        guarded[:, d:] |= guard[:, :-d]
    return (sink & ~guarded).any(axis=1).astype(np.int64)


def synthetic_code_tokens(n_train: int, n_test: int, seq_len: int, vocab: int, seed: int = DATA_SEED) -> TokenSet:
    """`n_train` + `n_test` sequences of at most `seq_len` ids (lengths vary from half to all of it)."""
    if seq_len < 8 or vocab <= FIRST_ORDINARY:
        raise ValueError("seq_len must be at least 8 and vocab larger than the special and rule tokens")
    rng = np.random.default_rng(seed)
    n, width = n_train + n_test, seq_len - 2  # room for <s> and </s>
    ranks = np.arange(1, vocab - FIRST_ORDINARY + 1, dtype=np.float64)
    cdf = np.cumsum(1.0 / ranks)
    cdf /= cdf[-1]
    body = FIRST_ORDINARY + np.minimum(np.searchsorted(cdf, rng.random((n, width))), len(cdf) - 1)
    lengths = rng.integers(seq_len // 2, width + 1, n)
    valid = np.arange(width)[None, :] < lengths[:, None]

    sink_pos = _distinct_positions(rng, lengths, width, len(_SINK_COUNTS) - 1)
    has_sink = np.arange(sink_pos.shape[1])[None, :] < rng.choice(len(_SINK_COUNTS), size=n, p=_SINK_COUNTS)[:, None]
    rows, cols = np.nonzero(has_sink)
    sinks_at = sink_pos[rows, cols]
    _place(body, rows, sinks_at, SINKS, rng)
    guarded = (sinks_at > 0) & (rng.random(len(rows)) < _GUARDED_SHARE)
    offsets = 1 + np.floor(rng.random(len(rows)) * np.minimum(GUARD_WINDOW, np.maximum(sinks_at, 1))).astype(np.int64)
    _place(body, rows[guarded], (sinks_at - offsets)[guarded], GUARDS, rng)

    stray_pos = _distinct_positions(rng, lengths, width, _STRAY_GUARDS)
    has_stray = np.arange(_STRAY_GUARDS)[None, :] < rng.integers(0, _STRAY_GUARDS + 1, n)[:, None]
    rows, cols = np.nonzero(has_stray)
    at = stray_pos[rows, cols]
    free = ~np.isin(body[rows, at], SINKS)
    _place(body, rows[free], at[free], GUARDS, rng)

    labels = _label(body, valid)
    flip = rng.random(n) < LABEL_NOISE
    labels[flip] = 1 - labels[flip]
    tokens = np.full((n, seq_len), PAD, dtype=np.int64)
    tokens[:, 0] = BOS
    tokens[:, 1:width + 1] = np.where(valid, body, PAD)
    tokens[np.arange(n), lengths + 1] = EOS
    t, y = torch.from_numpy(tokens), torch.from_numpy(labels)
    return TokenSet(f"synthetic-code-tokens-v{vocab}", t[:n_train], y[:n_train], t[n_train:], y[n_train:], vocab)


def code_tokens(size: str) -> TokenSet:
    """The token set of this size (on the CPU; the workload moves it)."""
    s = SIZES[size]
    key = {"sizes": dataclasses.asdict(s), "seed": DATA_SEED}
    return cached(TokenSet, "code-tokens", key, lambda: synthetic_code_tokens(s.train, s.test, s.seq_len, s.vocab),
                  None)
