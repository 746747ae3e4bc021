"""The labelled image set the classification workloads train on."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hyperwatt.workloads.data.augment import Normaliser


@dataclass(frozen=True)
class ImageSet:
    """uint8 images (N, C, H, W) with int64 labels, already on the training device."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def normaliser(self) -> Normaliser:
        """Standardisation by the training set's channel statistics."""
        return Normaliser(self.mean, self.std, self.train_x.device)

    def describe(self) -> dict[str, object]:
        c, h, w = self.train_x.shape[1:]
        return {"data": self.name, "train_samples": len(self.train_x), "test_samples": len(self.test_x),
                "image": f"{c}x{h}x{w}"}


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 images, on the [0, 1] scale."""
    x = images.float() / 255.0
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)
