"""Drawing helpers for the synthetic image sets: soft shapes, a shared noise bank, chunked rendering.

All randomness of a synthetic set is drawn on the CPU from a numpy generator (per-sample parameters
and the noise bank), so a data set is the same whichever device renders it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

#: Noise images in the bank; a sample reads one of them at a random offset.
NOISE_BANK_SIZE = 8
#: Pixel values rendered at once (bounds the memory a chunk of rendering takes).
_PIXELS_PER_CHUNK = 1 << 25


def sharpness(height_px: int) -> float:
    """Edge steepness for soft masks: about one pixel wide at this image height."""
    return 2.0 * height_px


def soft_step(t: torch.Tensor, k: float) -> torch.Tensor:
    """0 below zero, 1 above, a smooth ramp about 1/k wide."""
    return torch.sigmoid(t * k)


def soft_box(u: torch.Tensor, v: torch.Tensor, u0: torch.Tensor | float, u1: torch.Tensor | float,
             v0: torch.Tensor | float, v1: torch.Tensor | float, k: float) -> torch.Tensor:
    """Mask of the rectangle u0 < u < u1, v0 < v < v1."""
    return soft_step(u - u0, k) * soft_step(u1 - u, k) * soft_step(v - v0, k) * soft_step(v1 - v, k)


def noise_bank(rng: np.random.Generator, channels: int, height: int, width: int) -> torch.Tensor:
    """Standard-normal noise images twice the image size, to be read at random offsets."""
    bank = rng.standard_normal((NOISE_BANK_SIZE, channels, 2 * height, 2 * width), dtype=np.float32)
    return torch.from_numpy(bank)


def noise_draws(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """Per sample: bank index, row offset, column offset."""
    return np.stack([
        rng.integers(0, NOISE_BANK_SIZE, n),
        rng.integers(0, height, n),
        rng.integers(0, width, n),
    ], axis=1)


def read_noise(bank: torch.Tensor, draws: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, C, H, W) noise: each sample's window of its bank image."""
    rows = draws[:, 1:2] + torch.arange(height, device=bank.device)  # (B, H)
    cols = draws[:, 2:3] + torch.arange(width, device=bank.device)  # (B, W)
    channels = torch.arange(bank.shape[1], device=bank.device)
    return bank[draws[:, 0, None, None, None], channels[None, :, None, None],
                rows[:, None, :, None], cols[:, None, None, :]]


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats to bytes."""
    return (images.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)


def render_in_chunks(
    params: dict[str, np.ndarray],
    draw: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    pixels_per_sample: int,
    device: torch.device,
) -> torch.Tensor:
    """Call `draw` on slices of the per-sample `params` (moved to `device`); concatenate its bytes."""
    n = len(next(iter(params.values())))
    chunk = max(1, _PIXELS_PER_CHUNK // max(pixels_per_sample, 1))
    parts = []
    for lo in range(0, n, chunk):
        piece = {k: torch.as_tensor(v[lo:lo + chunk], device=device) for k, v in params.items()}
        parts.append(draw(piece))
    return torch.cat(parts) if parts else torch.empty(0, dtype=torch.uint8, device=device)
