"""What each metric aims at (max or min) and whether it is a proportion shown in percentage points."""

from __future__ import annotations

import re
from typing import Callable, Iterable, Literal

from hyperwatt.errors import HyperwattError

Goal = Literal["max", "min"]
#: (workload, metric) -> goal, or None when unknown.
GoalLookup = Callable[[str, str], "Goal | None"]

_MIN_WORDS = ("loss", "error", "err", "perplexity", "ppl", "mse", "mae", "rmse", "wer", "cer")
_MAX_WORDS = ("accuracy", "acc", "f1", "map", "rank", "auc", "precision", "recall", "iou", "miou", "dice",
              "bleu")
#: Metrics that are fractions in [0, 1] (or percentages in [0, 100]).
_PROPORTION_WORDS = ("accuracy", "acc", "error", "err", "f1", "map", "rank", "auc", "precision", "recall", "iou",
                     "miou", "dice")
#: rank1, rank5, top1, top5: retrieval/classification hit rates (maximised, proportions).
_RANKED = re.compile(r"(rank|top)\d+")


def _words(metric: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", metric.lower()) if w]


def _matches(metric: str, words: tuple[str, ...], ranked: bool = False) -> bool:
    return any(p in words or (ranked and _RANKED.fullmatch(p)) for p in _words(metric))


def heuristic_goal(metric: str) -> Goal | None:
    """Goal from the metric's name: loss/error/perplexity -> min; accuracy/f1/mAP/rank/auc/... -> max."""
    if _matches(metric, _MIN_WORDS):
        return "min"
    if _matches(metric, _MAX_WORDS, ranked=True):
        return "max"
    return None


def registry_goals(registry: object | None = None) -> GoalLookup:
    """A lookup that asks the workload registry first (`MetricsSpec.goals`), then the name heuristics."""
    if registry is None:
        try:
            from hyperwatt.config import Registry

            registry = Registry.builtin()
        except (HyperwattError, OSError, ValueError):
            registry = None
    cache: dict[str, dict[str, Goal]] = {}

    def lookup(workload: str, metric: str) -> Goal | None:
        if workload not in cache:
            declared: dict[str, Goal] = {}
            if registry is not None:
                try:
                    declared = dict(registry.get(workload).metrics.goals)  # type: ignore[attr-defined]
                except HyperwattError:
                    declared = {}
            cache[workload] = declared
        return cache[workload].get(metric) or heuristic_goal(metric)

    return lookup


def percent_scale(metric: str, values: Iterable[float]) -> float | None:
    """100 for a proportion in [0, 1], 1 for one already in percent, None when not a proportion."""
    if not _matches(metric, _PROPORTION_WORDS, ranked=True):
        return None
    vals = list(values)
    if not vals or min(vals) < 0:
        return None
    top = max(vals)
    if top <= 1.0:
        return 100.0
    return 1.0 if top <= 100.0 else None
