"""CIFAR-style images: the synthetic set is deterministic, balanced and learnable; real batches are read."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import RidgeClassifier

from hyperwatt.workloads._errors import DataError
from hyperwatt.workloads.data import cifar_images, read_cifar10, synthetic_cifar

CPU = torch.device("cpu")


def test_synthetic_set_shapes_and_balance() -> None:
    data = synthetic_cifar(200, 100, 16, CPU)
    assert data.train_x.shape == (200, 3, 16, 16) and data.train_x.dtype == torch.uint8
    assert data.test_x.shape == (100, 3, 16, 16) and data.num_classes == 10
    counts = torch.bincount(torch.cat([data.train_y, data.test_y]), minlength=10)
    assert counts.tolist() == [30] * 10
    assert len(data.mean) == 3 and all(0 < s < 1 for s in data.std)


def test_synthetic_set_is_deterministic() -> None:
    a, b = synthetic_cifar(64, 16, 16, CPU), synthetic_cifar(64, 16, 16, CPU)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.train_y, b.train_y)
    c = synthetic_cifar(64, 16, 16, CPU, seed=1)
    assert not torch.equal(a.train_x, c.train_x)


def test_synthetic_labels_are_learnable_but_not_trivial() -> None:
    data = cifar_images("tiny", None, CPU)
    x, xt = (d.flatten(1).float().numpy() / 255.0 for d in (data.train_x, data.test_x))
    score = RidgeClassifier(alpha=10.0).fit(x, data.train_y.numpy()).score(xt, data.test_y.numpy())
    assert 0.3 < score < 0.98


def _write_batch(path: Path, n: int, rng: np.random.Generator) -> None:
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": rng.integers(0, 10, n).tolist()}
    path.write_bytes(pickle.dumps(batch))


def test_real_cifar_batches_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        _write_batch(folder / f"data_batch_{i}", 4, rng)
    _write_batch(folder / "test_batch", 3, rng)
    tx, ty, vx, vy = read_cifar10(tmp_path)
    assert tx.shape == (20, 3, 32, 32) and ty.shape == (20,) and vx.shape == (3, 3, 32, 32)
    data = cifar_images("tiny", tmp_path, CPU)
    assert data.name == "cifar10" and len(data.train_x) == 20 and data.train_x.shape[2:] == (32, 32)
    (folder / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="test_batch"):
        read_cifar10(tmp_path)


def test_missing_cifar_batches_are_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no CIFAR-10 python batches"):
        read_cifar10(tmp_path)
