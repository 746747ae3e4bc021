"""Handwritten digits, 28x28: scikit-learn's digits upscaled (offline default) or real MNIST IDX files.

scikit-learn's 1 797 digits (8x8, 16 grey levels) are upscaled to 20x20 and centred in 28x28 as
MNIST's digits are, then split per class 80/20 with a fixed seed. Sizes `small` and `full` enlarge
each split to MNIST's 60 000 / 10 000 with fixed random affine copies (rotation, scale, shear,
shift) of that split's own digits, so no test digit is ever derived from a training digit.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hyperwatt.workloads._errors import DataError
from hyperwatt.workloads.data.augment import affine_copies
from hyperwatt.workloads.data.cache import cached
from hyperwatt.workloads.data.imageset import ImageSet, channel_stats

#: Fixed seed of the split and the augmentation: the data set never depends on --seed.
DATA_SEED = 20_251_115
_TEST_FRACTION = 0.2
_IDX_IMAGES = 2051
_IDX_LABELS = 2049
_MNIST_FILES = {
    "train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DigitSizes:
    train: int
    test: int


SIZES = {"tiny": DigitSizes(train=1437, test=360), "small": DigitSizes(60_000, 10_000),
         "full": DigitSizes(60_000, 10_000)}


def sklearn_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1 797 digits as uint8 (N, 1, 28, 28) and their labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    small = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]
    body = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    images = F.pad(body, (4, 4, 4, 4))
    return (images * 255.0).round().clamp(0, 255).to(torch.uint8), torch.from_numpy(bunch.target.astype(np.int64))


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices, the same fraction of every class in test, fixed by `seed`."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        cut = int(round(len(idx) * test_fraction))
        test.append(idx[:cut])
        train.append(idx[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _enlarge(images: torch.Tensor, labels: torch.Tensor, total: int, rng: np.random.Generator
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """The originals followed by affine copies of them, `total` in all (a prefix if fewer)."""
    if total <= len(images):
        return images[:total], labels[:total]
    copies, source = affine_copies(images, total - len(images), rng)
    return torch.cat([images, copies]), torch.cat([labels, labels[torch.as_tensor(source, device=labels.device)]])


def _read_idx(path: Path, magic: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    if len(data) < 8 or int.from_bytes(data[:4], "big") != magic:
        raise DataError(f"{path}: not an IDX file with magic number {magic}")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: holds {body.size} bytes of data, its header promises {int(np.prod(dims))}")
    return body.reshape(dims)


def find_mnist(data_dir: Path) -> dict[str, Path]:
    """The four IDX files (optionally .gz) in `data_dir`, `data_dir/MNIST/raw` or `data_dir/raw`."""
    for folder in (data_dir, data_dir / "MNIST" / "raw", data_dir / "raw"):
        found = {}
        for key, stem in _MNIST_FILES.items():
            for name in (stem, stem + ".gz"):
                if (folder / name).is_file():
                    found[key] = folder / name
                    break
        if len(found) == len(_MNIST_FILES):
            return found
    raise DataError(f"{data_dir}: no MNIST IDX files ({', '.join(_MNIST_FILES.values())}, optionally .gz)")


def read_mnist(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train images, train labels, test images, test labels as stored in the IDX files."""
    files = find_mnist(data_dir)
    arrays = {k: _read_idx(p, _IDX_IMAGES if k.endswith("_x") else _IDX_LABELS) for k, p in files.items()}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{files[split + '_x']}: expected N 28x28 images matching {len(y)} labels, got {x.shape}")
    return arrays["train_x"], arrays["train_y"], arrays["test_x"], arrays["test_y"]


def digit_images(size: str, data_dir: Path | None, device: torch.device) -> ImageSet:
    """The digit set of this size: real MNIST from `data_dir` when given, else upscaled scikit-learn digits."""
    sizes = SIZES[size]
    if data_dir is not None:
        tx, ty, vx, vy = read_mnist(data_dir)
        train_x = torch.from_numpy(tx[:sizes.train].copy())[:, None].to(device)
        train_y = torch.from_numpy(ty[:sizes.train].astype(np.int64)).to(device)
        test_x = torch.from_numpy(vx[:sizes.test].copy())[:, None].to(device)
        test_y = torch.from_numpy(vy[:sizes.test].astype(np.int64)).to(device)
        name = "mnist-idx"
    else:
        key = {"train": sizes.train, "test": sizes.test, "seed": DATA_SEED}
        return cached(ImageSet, "digits", key, lambda: _synthetic_digits(sizes, device), device)
    mean, std = channel_stats(train_x)
    return ImageSet(name, train_x, train_y, test_x, test_y, 10, mean, std)


def _synthetic_digits(sizes: DigitSizes, device: torch.device) -> ImageSet:
    images, labels = sklearn_digits()
    train_idx, test_idx = stratified_split(labels.numpy(), _TEST_FRACTION, DATA_SEED)
    images, labels = images.to(device), labels.to(device)
    rng = np.random.default_rng(DATA_SEED)
    train_x, train_y = _enlarge(images[train_idx], labels[train_idx], sizes.train, rng)
    test_x, test_y = _enlarge(images[test_idx], labels[test_idx], sizes.test, rng)
    name = "sklearn-digits-28x28" + ("+affine" if sizes.train > len(train_idx) else "")
    mean, std = channel_stats(train_x)
    return ImageSet(name, train_x, train_y, test_x, test_y, 10, mean, std)
