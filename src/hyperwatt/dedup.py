"""The dedup rule: a planned experiment is skipped when the store already holds enough succeeded
runs of its setting (its canonical key), so re-running a plan adds only what is missing."""

from __future__ import annotations

from collections.abc import Mapping

from hyperwatt.mutation import PlannedExperiment, occurrence_indices


def skip_reasons(experiments: list[PlannedExperiment], succeeded: Mapping[str, int]) -> list[str | None]:
    """Per experiment, why it is skipped, or None to run it: the n-th occurrence of a setting in the
    plan (0-based) is skipped when the store holds more than n succeeded runs of it."""
    return [
        f"the store already holds {succeeded[pe.key_hash]} succeeded run(s) of this setting"
        if succeeded.get(pe.key_hash, 0) > n
        else None
        for pe, n in zip(experiments, occurrence_indices(experiments))
    ]
