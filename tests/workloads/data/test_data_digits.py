"""Digit images: scikit-learn digits upscaled, the fixed split, affine enlargement, MNIST IDX files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import RidgeClassifier

from hyperwatt.workloads._errors import DataError
from hyperwatt.workloads.data import affine_copies, digit_images, read_mnist, sklearn_digits, stratified_split

CPU = torch.device("cpu")


def test_sklearn_digits_become_centred_28x28_bytes() -> None:
    images, labels = sklearn_digits()
    assert images.shape == (1797, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))
    border = torch.cat([images[:, :, :4].flatten(), images[:, :, -4:].flatten()])
    assert border.max() == 0 and images.max() == 255


def test_split_is_stratified_disjoint_and_fixed() -> None:
    labels = np.repeat(np.arange(10), 50)
    train, test = stratified_split(labels, 0.2, seed=1)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 500
    assert np.bincount(labels[test]).tolist() == [10] * 10
    again, _ = stratified_split(labels, 0.2, seed=1)
    other, _ = stratified_split(labels, 0.2, seed=2)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_tiny_set_is_the_split_and_learnable() -> None:
    data = digit_images("tiny", None, CPU)
    assert data.train_x.shape == (1437, 1, 28, 28) and data.test_x.shape == (360, 1, 28, 28)
    x, xt = (d.flatten(1).float().numpy() / 255.0 for d in (data.train_x, data.test_x))
    score = RidgeClassifier(alpha=10.0).fit(x, data.train_y.numpy()).score(xt, data.test_y.numpy())
    assert score > 0.8


def test_affine_copies_are_deterministic_and_keep_their_source() -> None:
    images, _ = sklearn_digits()
    first, source = affine_copies(images[:50], 200, np.random.default_rng(0))
    again, source_again = affine_copies(images[:50], 200, np.random.default_rng(0))
    assert first.shape == (200, 1, 28, 28) and torch.equal(first, again) and np.array_equal(source, source_again)
    # a copy looks more like its own source digit than like the other digits
    flat, src = first.flatten(1).float(), images[:50].flatten(1).float()
    nearest = torch.cdist(flat, src).argmin(1).numpy()
    assert np.mean(nearest == source) > 0.5
    assert not torch.equal(first[:10], images[:50][source[:10]])


def _write_idx(path: Path, array: np.ndarray, magic: int, compress: bool) -> None:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def write_fake_mnist(folder: Path, n_train: int = 30, n_test: int = 10, compress: bool = False) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 2051, compress)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n), 2049, compress)


@pytest.mark.parametrize("compress", [False, True])
def test_real_mnist_files_are_read(tmp_path: Path, compress: bool) -> None:
    write_fake_mnist(tmp_path / "MNIST" / "raw", compress=compress)
    tx, ty, vx, vy = read_mnist(tmp_path)
    assert tx.shape == (30, 28, 28) and ty.shape == (30,) and vx.shape == (10, 28, 28) and vy.shape == (10,)
    data = digit_images("tiny", tmp_path, CPU)
    assert data.name == "mnist-idx" and torch.equal(data.train_x[:, 0], torch.from_numpy(tx.copy()))


def test_bad_mnist_files_name_the_file(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 8)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        read_mnist(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no MNIST IDX files"):
        read_mnist(tmp_path / "empty")
