"""CIFAR-style 10-class colour images: a deterministic synthetic set (default) or real CIFAR-10.

Synthetic classes are shapes (disk, square, ring, cross, triangle, bars, diamond, ellipse, L, two
disks), drawn at a random position, size and rotation, filled with a textured colour near the
class's palette colour on a gradient background with a faint grating and pixel noise. Silhouette
and colour carry the class; nothing else does. Real CIFAR-10 is read from its python batches.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hyperwatt.workloads._errors import DataError
from hyperwatt.workloads.data.cache import cached
from hyperwatt.workloads.data.imageset import ImageSet, channel_stats
from hyperwatt.workloads.data.render import noise_bank, noise_draws, read_noise, render_in_chunks, to_uint8

DATA_SEED = 20_251_116
NUM_CLASSES = 10
_NOISE_STD = 0.05
#: Each class's typical fill colour (RGB in [0, 1]).
_PALETTE = np.array([
    [0.85, 0.20, 0.20], [0.20, 0.65, 0.25], [0.20, 0.35, 0.85], [0.90, 0.80, 0.20], [0.70, 0.25, 0.75],
    [0.20, 0.75, 0.75], [0.95, 0.55, 0.15], [0.55, 0.55, 0.55], [0.45, 0.30, 0.15], [0.95, 0.95, 0.95],
], dtype=np.float32)
_CIFAR_DIR = "cifar-10-batches-py"


@dataclass(frozen=True)
class CifarSizes:
    train: int
    test: int
    image_px: int


SIZES = {"tiny": CifarSizes(train=512, test=128, image_px=16), "small": CifarSizes(50_000, 10_000, 32),
         "full": CifarSizes(50_000, 10_000, 32)}


def _shape_field(cls: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Inside-ness of each class's shape at (u, v), positive inside, in shape-radius units."""
    au, av = u.abs(), v.abs()
    rho = torch.sqrt(u * u + v * v)
    fields = torch.stack([
        1.0 - rho,                                                                      # disk
        0.8 - torch.maximum(au, av),                                                    # square
        torch.minimum(rho - 0.55, 1.0 - rho),                                           # ring
        torch.maximum(torch.minimum(0.3 - au, 1.0 - av), torch.minimum(0.3 - av, 1.0 - au)),  # cross
        torch.minimum(v + 0.6, (0.9 - v) * 0.6 - au),                                   # triangle
        torch.minimum(0.9 - au, 0.18 - (av - 0.45).abs()),                              # two bars
        0.9 - (au + av),                                                                # diamond
        1.0 - torch.sqrt(u * u + (v / 0.45) ** 2),                                      # ellipse
        torch.maximum(torch.minimum(0.25 - (u + 0.45).abs(), 0.9 - av),
                      torch.minimum(0.25 - (v + 0.65).abs(), 0.9 - au)),                # L
        torch.maximum(0.45 - torch.sqrt((u - 0.45) ** 2 + v * v),
                      0.45 - torch.sqrt((u + 0.45) ** 2 + v * v)),                      # two disks
    ])  # (10, B, H, W)
    return fields.gather(0, cls.view(1, -1, 1, 1).expand(1, *u.shape)).squeeze(0)


def _params(rng: np.random.Generator, n: int, px: int) -> dict[str, np.ndarray]:
    cls = rng.permutation(np.arange(n) % NUM_CLASSES)
    fg = np.clip(_PALETTE[cls] + rng.normal(0.0, 0.18, (n, 3)), 0.0, 1.0)
    bg = np.clip(1.0 - fg[:, None, :] + rng.normal(0.0, 0.2, (n, 2, 3)), 0.0, 1.0)
    u = rng.uniform
    scalars = np.stack([
        u(-0.3, 0.3, n), u(-0.3, 0.3, n),            # centre
        u(0.4, 0.65, n),                              # radius
        u(-0.45, 0.45, n),                            # rotation (radians)
        u(0, 2 * math.pi, n),                         # background gradient direction
        u(4, 9, n), u(0, math.pi, n), u(0, 2 * math.pi, n),    # fill texture: frequency, angle, phase
        u(6, 14, n), u(0, math.pi, n),                # background grating: frequency, angle
    ], axis=1)
    return {"cls": cls.astype(np.int64), "fg": fg.astype(np.float32), "bg": bg.astype(np.float32),
            "s": scalars.astype(np.float32), "noise": noise_draws(rng, n, px, px)}


def synthetic_cifar(n_train: int, n_test: int, px: int, device: torch.device, seed: int = DATA_SEED) -> ImageSet:
    """The synthetic set: train and test drawn from one stream, so both follow the same law."""
    rng = np.random.default_rng(seed)
    bank = noise_bank(rng, 3, px, px).to(device)
    params = _params(rng, n_train + n_test, px)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, px, device=device), torch.linspace(-1, 1, px, device=device),
                            indexing="ij")
    edge = 1.5 * px / 2.0  # mask steepness: about a pixel

    def draw(p: dict[str, torch.Tensor]) -> torch.Tensor:
        s = p["s"][:, :, None, None]
        cx, cy, r, rot, grad, tf, ta, tp, gf, ga = s.unbind(1)
        dx, dy = xs - cx, ys - cy
        u = (dx * torch.cos(rot) + dy * torch.sin(rot)) / r
        v = (-dx * torch.sin(rot) + dy * torch.cos(rot)) / r
        mask = torch.sigmoid(_shape_field(p["cls"], u, v) * r * edge)[:, None]
        t = (xs * torch.cos(grad) + ys * torch.sin(grad) + 1.0) / 2.0
        bg1, bg2 = p["bg"][:, 0, :, None, None], p["bg"][:, 1, :, None, None]
        grating = 0.08 * torch.sin(gf * (xs * torch.cos(ga) + ys * torch.sin(ga)))
        background = bg1 + (bg2 - bg1) * t[:, None] + grating[:, None]
        texture = 0.75 + 0.25 * torch.sin(tf * (u * torch.cos(ta) + v * torch.sin(ta)) + tp)
        fill = p["fg"][:, :, None, None] * texture[:, None]
        image = background * (1.0 - mask) + fill * mask
        return to_uint8(image + _NOISE_STD * read_noise(bank, p["noise"], px, px))

    images = render_in_chunks(params, draw, 3 * px * px * 12, device)
    labels = torch.as_tensor(params["cls"], device=device)
    train_x, test_x = images[:n_train], images[n_train:]
    mean, std = channel_stats(train_x)
    return ImageSet(f"synthetic-cifar-{px}px", train_x, labels[:n_train], test_x, labels[n_train:],
                    NUM_CLASSES, mean, std)


def _unpickle(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
    if len(data) != len(labels):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data, labels


def find_cifar10(data_dir: Path) -> Path:
    """The folder holding data_batch_1..5 and test_batch: `data_dir` or its cifar-10-batches-py."""
    for folder in (data_dir, data_dir / _CIFAR_DIR):
        if all((folder / n).is_file() for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
            return folder
    raise DataError(f"{data_dir}: no CIFAR-10 python batches (data_batch_1..5, test_batch)")


def read_cifar10(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train images (N, 3, 32, 32), train labels, test images, test labels."""
    folder = find_cifar10(data_dir)
    train = [_unpickle(folder / f"data_batch_{i}") for i in range(1, 6)]
    test_x, test_y = _unpickle(folder / "test_batch")
    return np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train]), test_x, test_y


def cifar_images(size: str, data_dir: Path | None, device: torch.device) -> ImageSet:
    """The CIFAR-style set of this size: real CIFAR-10 from `data_dir` when given, else synthetic."""
    sizes = SIZES[size]
    if data_dir is None:
        key = {"train": sizes.train, "test": sizes.test, "px": sizes.image_px, "seed": DATA_SEED}
        return cached(ImageSet, "cifar", key, lambda: synthetic_cifar(sizes.train, sizes.test, sizes.image_px, device),
                      device)
    tx, ty, vx, vy = read_cifar10(data_dir)
    train_x = torch.from_numpy(tx[:sizes.train]).to(device)
    test_x = torch.from_numpy(vx[:sizes.test]).to(device)
    mean, std = channel_stats(train_x)
    return ImageSet("cifar10", train_x, torch.from_numpy(ty[:sizes.train]).to(device), test_x,
                    torch.from_numpy(vy[:sizes.test]).to(device), NUM_CLASSES, mean, std)
