"""History that counts: what a plan's experiments already have in the store or in the seed's
`historical_csvs` its settings name (use_deduplication), matched by typed canonical keys.

The seed deduplicated against its CSVs by reading every value as a float, so an integer it drew
(`epochs` 5, written "5") never matched the history's "5.0": it re-ran settings it had. hyperwatt
types each value by its hyperparameter before comparing, so 5 and "5.0" of an int are one setting.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hyperwatt.config import LoadedPlan
from hyperwatt.errors import ConfigError
from hyperwatt.importing.importer import ImportReport, import_paths, read_sources


@dataclass
class History:
    """Per planned key hash: valid succeeded runs held, and how many of them were imported."""

    counts: Counter[str] = field(default_factory=Counter)
    imported: Counter[str] = field(default_factory=Counter)

    def state(self, key_hash: str, nth: int) -> str | None:
        """Why the nth occurrence of a setting in the plan is done, or None to run it."""
        if self.counts[key_hash] <= nth:
            return None
        return "done (imported)" if self.imported[key_hash] > nth else "done (in store)"


def plan_history(loaded: LoadedPlan, results_dir: Path, key_hashes: list[str]) -> History:
    """What the store holds plus the plan's historical CSVs not imported yet (read, not written)."""
    from hyperwatt.store import DB_NAME, open_store

    history = History()
    keys = set(key_hashes)
    batches = read_sources(list(loaded.historical_csvs), loaded.registry) if loaded.historical_csvs else []
    pending = [r for b in batches for r in b.records if r.key_hash in keys and r.valid]
    if (Path(results_dir) / DB_NAME).exists():
        store = open_store(results_dir, readonly=True)
        try:
            history.counts.update(store.succeeded_counts(keys))
            history.imported.update(store.imported_counts(keys))
            stored = store.existing_ids(r.experiment_id for r in pending)
        finally:
            store.close()
        pending = [r for r in pending if r.experiment_id not in stored]
    for record in pending:
        history.counts[record.key_hash] += 1
        history.imported[record.key_hash] += 1
    return history


def import_history(loaded: LoadedPlan, results_dir: Path) -> ImportReport | None:
    """Before a run: the plan's historical CSVs into the store (idempotent); refused if one is missing."""
    if loaded.missing_csvs:
        raise ConfigError(loaded.source, "historical_csvs", (
            f"use_deduplication names {', '.join(loaded.missing_csvs)}, not found beside the settings file or in "
            "its parent folders: import the seed's results with `hyperwatt import PATH`, correct the path, or "
            "pass --rerun to run without history"))
    if not loaded.historical_csvs:
        return None
    return import_paths(list(loaded.historical_csvs), results_dir, loaded.registry)
