"""Person re-identification images: a deterministic synthetic identity set, or Market-1501.

Synthetic: every identity is a fixed appearance (shirt, trousers, hair, skin and shoe colours, a
shirt pattern, build, and maybe a bag); every image of it varies pose (shift, scale, mirror),
camera (each camera has its own colour cast), colour jitter, background and pixel noise. Training
identities and test identities are disjoint, as in Market-1501. Each test identity is seen by
every camera; one image per camera of its first `query_cameras` cameras is a query, the rest form
the gallery, so every query has a true match under another camera.

Market-1501 (`--data-dir` holding bounding_box_train, query and bounding_box_test) is read from its
JPEG files; file names carry identity and camera (`0002_c1s1_000451_03.jpg`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hyperwatt.workloads._errors import DataError
from hyperwatt.workloads.data.cache import cached
from hyperwatt.workloads.data.render import (
    noise_bank, noise_draws, read_noise, render_in_chunks, sharpness, soft_box, soft_step, to_uint8,
)

DATA_SEED = 20_251_117
_NOISE_STD = 0.04
_MARKET_NAME = re.compile(r"^(-?\d+)_c(\d+)")
_MARKET_DIRS = ("bounding_box_train", "query", "bounding_box_test")


@dataclass(frozen=True)
class PersonSizes:
    train_ids: int
    images_per_train_id: int
    test_ids: int
    cameras: int
    images_per_camera: int  # per test identity
    query_cameras: int      # cameras whose first image of each test identity is a query
    height_px: int
    width_px: int


SIZES = {
    "tiny": PersonSizes(8, 4, 4, 3, 2, 2, 64, 32),
    "small": PersonSizes(751, 16, 750, 6, 2, 1, 256, 128),
    "full": PersonSizes(751, 17, 750, 6, 5, 5, 256, 128),
}


@dataclass(frozen=True)
class ReidSet:
    """uint8 images (N, 3, H, W) on the training device; identities and cameras as int64."""

    name: str
    train_x: torch.Tensor
    train_ids: torch.Tensor  # 0 .. num_train_ids-1
    query_x: torch.Tensor
    query_ids: np.ndarray
    query_cams: np.ndarray
    gallery_x: torch.Tensor
    gallery_ids: np.ndarray  # -1: junk (Market-1501), never a match
    gallery_cams: np.ndarray
    num_train_ids: int

    def describe(self) -> dict[str, object]:
        h, w = self.train_x.shape[2:]
        return {"data": self.name, "train_samples": len(self.train_x), "train_ids": self.num_train_ids,
                "query_samples": len(self.query_x), "gallery_samples": len(self.gallery_x), "image": f"3x{h}x{w}"}


def _appearances(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Per identity: colours (shirt, trousers, hair, skin, shoes, pattern, bag) and build."""
    skin = np.array([0.95, 0.78, 0.65]) * rng.uniform(0.45, 1.0, (n, 1))
    return {
        "colours": np.stack([
            rng.uniform(0, 1, (n, 3)), rng.uniform(0, 1, (n, 3)), rng.uniform(0, 0.5, (n, 3)),
            skin, rng.uniform(0, 0.6, (n, 3)), rng.uniform(0, 1, (n, 3)), rng.uniform(0, 1, (n, 3)),
        ], axis=1).astype(np.float32),  # (n, 7, 3)
        "pattern": rng.integers(0, 4, n),  # plain, horizontal stripes, vertical stripes, checks
        "build": np.stack([
            rng.uniform(0.8, 1.2, n),       # width
            rng.uniform(6, 14, n),          # pattern frequency
            rng.integers(0, 2, n),          # bag
            rng.uniform(0.45, 0.62, n),     # where shirt ends
        ], axis=1).astype(np.float32),
    }


def _sample_params(rng: np.random.Generator, who: np.ndarray, cams: np.ndarray, looks: dict[str, np.ndarray],
                   camera_cast: np.ndarray, h: int, w: int) -> dict[str, np.ndarray]:
    n = len(who)
    u = rng.uniform
    pose = np.stack([
        u(-0.07, 0.07, n), u(-0.04, 0.04, n), u(0.88, 1.08, n),   # shift x, shift y, scale
        rng.integers(0, 2, n) * 2.0 - 1.0,                           # mirror
        u(0, 1, n), u(0, 1, n),                                      # background gradient: start, slope
    ], axis=1)
    colours = looks["colours"][who] * (1.0 + rng.normal(0, 0.06, (n, 1, 3)))
    return {
        "colours": (colours * camera_cast[cams][:, None, :]).astype(np.float32),
        "pattern": looks["pattern"][who].astype(np.int64),
        "build": looks["build"][who],
        "pose": pose.astype(np.float32),
        "bg": (rng.uniform(0.1, 0.9, (n, 2, 3)) * camera_cast[cams][:, None, :]).astype(np.float32),
        "noise": noise_draws(rng, n, h, w),
    }


def _drawer(h: int, w: int, bank: torch.Tensor, device: torch.device) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
    ys, xs = torch.meshgrid(torch.linspace(0, 1, h, device=device), torch.linspace(-0.5, 0.5, w, device=device),
                            indexing="ij")
    k = sharpness(h)

    def draw(p: dict[str, torch.Tensor]) -> torch.Tensor:
        pose = p["pose"][:, :, None, None]
        sx, sy, scale, mirror, g0, g1 = pose.unbind(1)
        wide, freq, bag, waist = p["build"][:, :, None, None].unbind(1)
        u = (xs - sx) / scale * mirror * 2.0          # body-centred, about [-1, 1] across
        v = (ys - sy - 0.5) / scale + 0.5             # 0 head top .. 1 feet
        c = p["colours"][:, :, :, None, None]         # (B, 7, 3, 1, 1)
        shirt, trousers, hair, skin, shoes, pattern_c, bag_c = c.unbind(1)
        image = p["bg"][:, 0, :, None, None] + (p["bg"][:, 1, :, None, None] - p["bg"][:, 0, :, None, None]) * (
            (g0 + g1 * ys)[:, None] % 1.0)

        def paint(mask: torch.Tensor, colour: torch.Tensor) -> None:
            nonlocal image
            image = image + (colour - image) * mask[:, None]

        head = torch.sigmoid(k * (1.0 - torch.sqrt((u / 0.22) ** 2 + ((v - 0.11) / 0.085) ** 2)) * 0.08)
        paint(head, skin)
        paint(head * soft_step(0.09 - v, k), hair)
        arms = soft_box(u.abs(), v, 0.42 * wide, 0.55 * wide, 0.21, waist - 0.03, k)
        paint(arms, shirt)
        torso = soft_box(u, v, -0.42 * wide, 0.42 * wide, 0.2, waist, k)
        pat = p["pattern"][:, None, None]
        stripes_h = (torch.sin(freq * 2 * torch.pi * v) > 0).float()
        stripes_v = (torch.sin(freq * torch.pi * u) > 0).float()
        chosen = torch.where(pat == 1, stripes_h, torch.where(pat == 2, stripes_v, stripes_h * stripes_v))
        chosen = torch.where(pat == 0, torch.zeros_like(chosen), chosen)
        paint(torso, shirt)
        paint(torso * chosen, pattern_c)
        legs = soft_box(u.abs(), v, 0.04, 0.36 * wide, waist, 0.91, k)
        paint(legs, trousers)
        paint(soft_box(u.abs(), v, 0.04, 0.38 * wide, 0.91, 0.96, k), shoes)
        paint(soft_box(u, v, 0.45 * wide, 0.8 * wide, 0.32, 0.58, k) * bag, bag_c)
        return to_uint8(image + _NOISE_STD * read_noise(bank, p["noise"], h, w))

    return draw


def _split_test(sizes: PersonSizes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per test image: identity, camera, and whether it is a query."""
    per_id = sizes.cameras * sizes.images_per_camera
    who = np.repeat(np.arange(sizes.test_ids), per_id)
    cams = np.tile(np.repeat(np.arange(sizes.cameras), sizes.images_per_camera), sizes.test_ids)
    first_of_camera = np.tile(np.arange(sizes.images_per_camera) == 0, sizes.test_ids * sizes.cameras)
    is_query = first_of_camera & (cams < sizes.query_cameras)
    return who, cams, is_query


def synthetic_persons(sizes: PersonSizes, height_px: int, width_px: int, device: torch.device,
                      seed: int = DATA_SEED) -> ReidSet:
    """The synthetic identity set at this size and image shape."""
    rng = np.random.default_rng(seed)
    h, w = height_px, width_px
    bank = noise_bank(rng, 3, h, w).to(device)
    camera_cast = rng.uniform(0.75, 1.2, (sizes.cameras, 3))
    train_looks = _appearances(rng, sizes.train_ids)
    test_looks = _appearances(rng, sizes.test_ids)
    draw = _drawer(h, w, bank, device)
    pixels = 3 * h * w * 6

    train_who = np.repeat(np.arange(sizes.train_ids), sizes.images_per_train_id)
    train_cams = rng.integers(0, sizes.cameras, len(train_who))
    train_x = render_in_chunks(_sample_params(rng, train_who, train_cams, train_looks, camera_cast, h, w),
                               draw, pixels, device)
    who, cams, is_query = _split_test(sizes)
    test_x = render_in_chunks(_sample_params(rng, who, cams, test_looks, camera_cast, h, w), draw, pixels, device)
    q = torch.as_tensor(is_query, device=device)
    return ReidSet(
        name=f"synthetic-persons-{h}x{w}", train_x=train_x, train_ids=torch.as_tensor(train_who, device=device),
        query_x=test_x[q], query_ids=who[is_query], query_cams=cams[is_query],
        gallery_x=test_x[~q], gallery_ids=who[~is_query], gallery_cams=cams[~is_query],
        num_train_ids=sizes.train_ids,
    )


def _market_folder(data_dir: Path) -> Path:
    for folder in [data_dir, *sorted(p for p in data_dir.glob("Market-1501*") if p.is_dir())]:
        if all((folder / d).is_dir() for d in _MARKET_DIRS):
            return folder
    raise DataError(f"{data_dir}: no Market-1501 folders ({', '.join(_MARKET_DIRS)})")


def _read_image(path: Path, h: int, w: int) -> torch.Tensor:
    """One JPEG as uint8 (1, 3, h, w)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: cannot decode: {exc}") from None
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float()
    return F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False).round().clamp(
        0, 255).to(torch.uint8)


def _read_folder(folder: Path, h: int, w: int, device: torch.device, skip_distractors: bool
                 ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    images, ids, cams = [], [], []
    for path in sorted(folder.glob("*.jpg")):
        match = _MARKET_NAME.match(path.name)
        if match is None:
            continue
        pid, cam = int(match.group(1)), int(match.group(2))
        if skip_distractors and pid <= 0:
            continue
        images.append(_read_image(path, h, w))
        ids.append(pid)
        cams.append(cam)
    if not images:
        raise DataError(f"{folder}: no Market-1501 images (NNNN_cN....jpg)")
    return torch.cat(images).to(device), np.array(ids, dtype=np.int64), np.array(cams, dtype=np.int64)


def read_market1501(data_dir: Path, height_px: int, width_px: int, device: torch.device) -> ReidSet:
    """Market-1501 resized to height x width; training identities relabelled 0..K-1."""
    folder = _market_folder(data_dir)
    train_x, train_pids, _ = _read_folder(folder / "bounding_box_train", height_px, width_px, device, True)
    query_x, query_ids, query_cams = _read_folder(folder / "query", height_px, width_px, device, True)
    gallery_x, gallery_ids, gallery_cams = _read_folder(folder / "bounding_box_test", height_px, width_px,
                                                        device, False)
    labels = {pid: i for i, pid in enumerate(sorted(set(train_pids.tolist())))}
    train_ids = torch.as_tensor([labels[p] for p in train_pids.tolist()], device=device)
    return ReidSet("market1501", train_x, train_ids, query_x, query_ids, query_cams, gallery_x,
                   np.where(gallery_ids < 0, -1, gallery_ids), gallery_cams, len(labels))


def person_images(size: str, data_dir: Path | None, device: torch.device, height_scale: float = 1.0) -> ReidSet:
    """The re-ID set of this size (images `height_scale` times larger, as PCB wants), real when `data_dir`."""
    sizes = SIZES[size]
    h, w = int(sizes.height_px * height_scale), int(sizes.width_px * height_scale)
    if data_dir is not None:
        return read_market1501(data_dir, h, w, device)
    key = {"sizes": dataclasses.asdict(sizes), "h": h, "w": w, "seed": DATA_SEED}
    return cached(ReidSet, "persons", key, lambda: synthetic_persons(sizes, h, w, device), device)
