"""Scores the workloads report: binary F1, and rank-k / mAP for re-identification.

Re-identification protocol (Market-1501's): for each query, rank the gallery by ascending
distance (ties keep gallery order). Gallery images of the query's identity taken by the query's
own camera are *junk* and removed from that query's ranking, as are gallery images whose identity
is -1; nothing else is removed. Rank-k is the share of queries whose first true match is within the
first k of the remaining list; AP is the mean, over the true matches, of the precision at each of
them; mAP averages AP over queries. A query left with no true match has no defined AP: it is
excluded from both means and counted in `queries_without_match`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def binary_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 of the positive class (label 1); 0.0 when there is no positive in either array."""
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp = int(np.sum(t & p))
    denominator = 2 * tp + int(np.sum(~t & p)) + int(np.sum(t & ~p))
    return 2 * tp / denominator if denominator else 0.0


@dataclass(frozen=True)
class RetrievalScores:
    cmc: np.ndarray  # cmc[k-1] = rank-k
    mean_ap: float
    queries_scored: int
    queries_without_match: int

    def rank(self, k: int) -> float:
        return float(self.cmc[min(k, len(self.cmc)) - 1])


def retrieval_scores(
    distances: np.ndarray,
    query_ids: np.ndarray,
    query_cams: np.ndarray,
    gallery_ids: np.ndarray,
    gallery_cams: np.ndarray,
    max_rank: int = 10,
) -> RetrievalScores:
    """CMC up to `max_rank` and mAP from a (queries x gallery) distance matrix, by the protocol above."""
    distances = np.asarray(distances, dtype=np.float64)
    if distances.shape != (len(query_ids), len(gallery_ids)):
        raise ValueError(f"distances {distances.shape} do not match {len(query_ids)} queries x {len(gallery_ids)} gallery")
    hits_at = np.zeros(max_rank)
    aps: list[float] = []
    unmatched = 0
    for q in range(len(query_ids)):
        order = np.argsort(distances[q], kind="stable")
        ids, cams = gallery_ids[order], gallery_cams[order]
        keep = ~(((ids == query_ids[q]) & (cams == query_cams[q])) | (ids == -1))
        good = ids[keep] == query_ids[q]
        if not good.any():
            unmatched += 1
            continue
        positions = np.flatnonzero(good)  # 0-based ranks of the true matches
        if positions[0] < max_rank:
            hits_at[positions[0]:] += 1
        aps.append(float(np.mean(np.arange(1, len(positions) + 1) / (positions + 1))))
    scored = len(aps)
    cmc = hits_at / scored if scored else hits_at
    return RetrievalScores(cmc=cmc, mean_ap=float(np.mean(aps)) if aps else 0.0,
                           queries_scored=scored, queries_without_match=unmatched)
