"""Re-ID images: identities disjoint between train and test, every query matchable, appearance consistent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from hyperwatt.workloads._errors import DataError
from hyperwatt.workloads.data import person_images, read_market1501, synthetic_persons
from hyperwatt.workloads.data.persons import SIZES, PersonSizes
from hyperwatt.workloads.evaluation import retrieval_scores

CPU = torch.device("cpu")
SMALL = PersonSizes(train_ids=6, images_per_train_id=3, test_ids=30, cameras=3, images_per_camera=2,
                    query_cameras=2, height_px=64, width_px=32)


def test_shapes_and_splits() -> None:
    data = synthetic_persons(SMALL, 64, 32, CPU)
    assert data.train_x.shape == (18, 3, 64, 32) and data.train_x.dtype == torch.uint8
    assert data.train_ids.tolist() == [i for i in range(6) for _ in range(3)] and data.num_train_ids == 6
    assert len(data.query_x) == 30 * 2 and len(data.gallery_x) == 30 * 4
    assert sorted(set(data.query_ids.tolist())) == list(range(30))


def test_every_query_has_a_match_under_another_camera() -> None:
    data = synthetic_persons(SMALL, 64, 32, CPU)
    for pid, cam in zip(data.query_ids, data.query_cams):
        assert np.any((data.gallery_ids == pid) & (data.gallery_cams != cam))


def test_deterministic() -> None:
    a, b = synthetic_persons(SMALL, 64, 32, CPU), synthetic_persons(SMALL, 64, 32, CPU)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.gallery_x, b.gallery_x)


def _central_colours(x: torch.Tensor) -> torch.Tensor:
    """Mean colour of eight horizontal bands of the image's middle quarter (where the person stands)."""
    w = x.shape[3]
    return F.adaptive_avg_pool2d(x[:, :, :, 3 * w // 8: 5 * w // 8].float() / 255.0, (8, 1)).flatten(1)


def test_identities_are_recognisable_from_appearance() -> None:
    data = synthetic_persons(SMALL, 64, 32, CPU)
    distances = torch.cdist(_central_colours(data.query_x), _central_colours(data.gallery_x)).numpy()
    scores = retrieval_scores(distances, data.query_ids, data.query_cams, data.gallery_ids, data.gallery_cams)
    chance = retrieval_scores(np.random.default_rng(0).random(distances.shape), data.query_ids, data.query_cams,
                              data.gallery_ids, data.gallery_cams)
    assert scores.rank(1) > 0.5 > chance.rank(1) + 0.3
    assert scores.mean_ap > chance.mean_ap + 0.3


def test_pcb_images_are_taller_and_wider() -> None:
    data = person_images("tiny", None, CPU, height_scale=1.5)
    tiny = SIZES["tiny"]
    assert data.train_x.shape[2:] == (int(tiny.height_px * 1.5), int(tiny.width_px * 1.5))


def _write_jpeg(path: Path, rng: np.random.Generator) -> None:
    Image.fromarray(rng.integers(0, 256, (40, 20, 3), dtype=np.uint8)).save(path, format="JPEG")


def test_market1501_files_are_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    root = tmp_path / "Market-1501-v15.09.15"
    names = {"bounding_box_train": ["0002_c1s1_000451_03.jpg", "0002_c2s1_000551_01.jpg", "0007_c1s1_000001_01.jpg",
                                    "0000_c1s1_000002_01.jpg"],
             "query": ["0001_c1s1_001051_00.jpg"],
             "bounding_box_test": ["0001_c2s1_000301_01.jpg", "-1_c1s1_000401_03.jpg", "0000_c3s1_000101_01.jpg"]}
    for folder, files in names.items():
        (root / folder).mkdir(parents=True)
        for name in files:
            _write_jpeg(root / folder / name, rng)
    data = read_market1501(tmp_path, 64, 32, CPU)
    assert data.train_x.shape == (3, 3, 64, 32) and data.train_ids.tolist() == [0, 0, 1] and data.num_train_ids == 2
    assert data.query_ids.tolist() == [1] and data.query_cams.tolist() == [1]
    assert sorted(data.gallery_ids.tolist()) == [-1, 0, 1]
    (root / "query" / "0001_c1s1_001051_00.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="0001_c1s1_001051_00.jpg"):
        read_market1501(tmp_path, 64, 32, CPU)
    (tmp_path / "other").mkdir()
    with pytest.raises(DataError, match="no Market-1501 folders"):
        read_market1501(tmp_path / "other", 64, 32, CPU)
