"""Image augmentation: fixed affine copies that enlarge a data set, and per-batch crop and flip."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from hyperwatt.workloads.data.render import render_in_chunks, to_uint8


def affine_copies(
    images: torch.Tensor,
    count: int,
    rng: np.random.Generator,
    max_rotation_deg: float = 12.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
    max_shear: float = 0.15,
    max_shift_px: float = 2.0,
) -> tuple[torch.Tensor, np.ndarray]:
    """`count` randomly rotated, scaled, sheared and shifted copies of uint8 `images` (N, C, H, W).

    Returns the copies and, for each, the index of the image it was made from.
    """
    n, _, height, width = images.shape
    source = rng.integers(0, n, count)
    angle = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg, count))
    scale = rng.uniform(*scale_range, count)
    shear = rng.uniform(-max_shear, max_shear, count)
    shift_x = rng.uniform(-max_shift_px, max_shift_px, count) * 2.0 / width
    shift_y = rng.uniform(-max_shift_px, max_shift_px, count) * 2.0 / height
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    # output -> input sampling matrix: rotation and scale, then a horizontal shear
    theta = np.stack([
        np.stack([cos + shear * sin, -sin + shear * cos, shift_x], axis=1),
        np.stack([sin, cos, shift_y], axis=1),
    ], axis=1).astype(np.float32)
    params: dict[str, np.ndarray] = {"source": source.astype(np.int64), "theta": theta}

    def draw(p: dict[str, torch.Tensor]) -> torch.Tensor:
        src = images[p["source"]].float() / 255.0
        grid = F.affine_grid(p["theta"], list(src.shape), align_corners=False)
        return to_uint8(F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False))

    copies = render_in_chunks(params, draw, images[0].numel(), images.device)
    return copies, source


def random_crop_flip(images: torch.Tensor, pad: int, generator: torch.Generator | None = None, flip: bool = True
                     ) -> torch.Tensor:
    """Each image zero-padded by `pad`, cropped back at a random offset, mirrored half the time
    (random draws from `generator`, by default torch's, which CUDA graphs can replay)."""
    b, c, h, w = images.shape
    device = images.device
    padded = F.pad(images, (pad, pad, pad, pad)) if pad else images
    dy = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=device)
    dx = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=device)
    rows = dy + torch.arange(h, device=device)
    cols = torch.arange(w, device=device).expand(b, w)
    if flip:
        mirrored = torch.rand((b, 1), generator=generator, device=device) < 0.5
        cols = torch.where(mirrored, w - 1 - cols, cols)
    cols = dx + cols
    batch = torch.arange(b, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


class Normaliser:
    """uint8 (B, C, H, W) to floats standardised per channel.

    The statistics are put on the device once: building them per batch would copy from the host
    each step and make the CPU wait for the GPU.
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device) -> None:
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() / 255.0 - self.mean) / self.std
