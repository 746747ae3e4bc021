"""Scores: binary F1 and the re-identification protocol on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from hyperwatt.workloads.evaluation import binary_f1, retrieval_scores


def test_f1_on_a_hand_counted_case() -> None:
    # tp = 2, fp = 1, fn = 1 -> 2*2 / (2*2 + 1 + 1)
    assert binary_f1(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1])) == pytest.approx(4 / 6)


def test_f1_extremes() -> None:
    assert binary_f1(np.array([1, 0, 1]), np.array([1, 0, 1])) == 1.0
    assert binary_f1(np.array([1, 1]), np.array([0, 0])) == 0.0
    assert binary_f1(np.array([0, 0]), np.array([0, 0])) == 0.0


def test_f1_agrees_with_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        t, p = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
        assert binary_f1(t, p) == pytest.approx(f1_score(t, p, zero_division=0.0))


GALLERY_IDS = np.array([1, 2, 1, 3, 1, -1])
GALLERY_CAMS = np.array([0, 1, 1, 1, 2, 1])


def test_rank_and_map_on_a_hand_made_distance_matrix() -> None:
    distances = np.array([
        # g0 is junk for q0 (same id, same camera); its true matches come 2nd and 4th of what remains
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.9],
        # q1 (id 3) finds g3 first once the junk g5 (id -1) is removed
        [0.9, 0.8, 0.7, 0.1, 0.6, 0.05],
    ])
    scores = retrieval_scores(distances, np.array([1, 3]), np.array([0, 0]), GALLERY_IDS, GALLERY_CAMS, max_rank=5)
    assert scores.cmc.tolist() == [0.5, 1.0, 1.0, 1.0, 1.0]
    assert scores.rank(1) == 0.5 and scores.rank(5) == 1.0
    assert scores.mean_ap == pytest.approx(((1 / 2 + 2 / 4) / 2 + 1.0) / 2)
    assert (scores.queries_scored, scores.queries_without_match) == (2, 0)


def test_same_camera_matches_are_not_counted_as_hits() -> None:
    # g2 (id 1, camera 1) is nearest but shares the query's camera: junk, not a hit
    distances = np.array([[0.5, 0.4, 0.0, 0.6, 0.95, 0.7]])
    scores = retrieval_scores(distances, np.array([1]), np.array([1]), GALLERY_IDS, GALLERY_CAMS, max_rank=5)
    # kept: g1, g0 (hit), g3, g4 (hit)
    assert scores.cmc.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert scores.mean_ap == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_a_query_without_a_true_match_is_excluded_and_counted() -> None:
    distances = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]])
    scores = retrieval_scores(distances, np.array([9, 1]), np.array([0, 1]), GALLERY_IDS, GALLERY_CAMS, max_rank=3)
    # q1 (id 1, cam 1): g2 is junk; kept order g4, g3, g1, g0 -> hits at 1st and 4th
    assert (scores.queries_scored, scores.queries_without_match) == (1, 1)
    assert scores.rank(1) == 1.0
    assert scores.mean_ap == pytest.approx((1 / 1 + 2 / 4) / 2)


def test_ties_keep_gallery_order() -> None:
    distances = np.zeros((1, 6))
    scores = retrieval_scores(distances, np.array([2]), np.array([0]), GALLERY_IDS, GALLERY_CAMS, max_rank=3)
    # kept in gallery order: g0 (1), g1 (2: the match), ...
    assert scores.cmc.tolist() == [0.0, 1.0, 1.0]


def test_perfect_and_shape_checks() -> None:
    ids = np.array([0, 1, 2])
    distances = 1.0 - np.eye(3)
    scores = retrieval_scores(distances, ids, np.zeros(3), ids, np.ones(3))
    assert scores.rank(1) == 1.0 and scores.mean_ap == 1.0
    with pytest.raises(ValueError):
        retrieval_scores(np.zeros((2, 3)), ids, np.zeros(3), ids, np.ones(3))
