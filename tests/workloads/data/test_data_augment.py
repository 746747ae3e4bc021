"""Per-batch augmentation: crops shift content, flips mirror it, the generator decides."""

from __future__ import annotations

import torch

from hyperwatt.workloads.data import Normaliser, random_crop_flip


def test_crop_without_padding_or_flip_is_the_identity() -> None:
    x = torch.randint(0, 256, (4, 3, 8, 6), dtype=torch.uint8)
    assert torch.equal(random_crop_flip(x, 0, torch.Generator().manual_seed(0), flip=False), x)


def test_flip_mirrors_whole_images() -> None:
    x = torch.randint(0, 256, (64, 3, 8, 6), dtype=torch.uint8)
    y = random_crop_flip(x, 0, torch.Generator().manual_seed(0))
    same = [torch.equal(a, b) for a, b in zip(x, y)]
    mirrored = [torch.equal(torch.flip(a, dims=[2]), b) for a, b in zip(x, y)]
    assert all(s or m for s, m in zip(same, mirrored)) and 10 < sum(mirrored) < 54


def test_crops_are_shifted_windows_of_the_padded_image() -> None:
    x = torch.arange(1, 1 + 2 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    y = random_crop_flip(x, 2, torch.Generator().manual_seed(1), flip=False)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(w, y[i]) for w in windows)


def test_same_generator_state_same_augmentation() -> None:
    x = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    a = random_crop_flip(x, 2, torch.Generator().manual_seed(5))
    b = random_crop_flip(x, 2, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_normalise_standardises_channels() -> None:
    x = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    y = Normaliser((0.5, 0.5, 0.5), (0.25, 0.5, 1.0), torch.device("cpu"))(x)
    assert torch.allclose(y[:, 0], torch.tensor(2.0)) and torch.allclose(y[:, 2], torch.tensor(0.5))
