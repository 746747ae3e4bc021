"""`hyperwatt import`: the seed's results into the store, one imported session per source file or run
folder. Everything is read and checked first; then one transaction writes it all, or nothing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hyperwatt import __version__
from hyperwatt.config import Registry
from hyperwatt.errors import ConfigError
from hyperwatt.importing.mapping import Mapped, map_row
from hyperwatt.importing.runfolders import read_run_folder, run_folders
from hyperwatt.importing.seedcsv import SeedRow, read_seed_csv
from hyperwatt.importing.suspects import flag_suspects
from hyperwatt.records import ExperimentRecord

#: Version of an imported session's `import.json` (checked by readers, like the records' own).
IMPORT_SCHEMA_VERSION = 1
IMPORTED_STATUS = "imported"
SKIP_STORED = "already in the store (imported before)"
SKIP_REPEATED = "the same experiment_id and timestamp earlier in this import"


@dataclass
class Batch:
    """One source (a CSV file or a run folder) read and mapped, nothing written yet."""

    source: Path
    session_id: str
    rows: list[Mapped]
    skipped: Counter[str] = field(default_factory=Counter)
    #: the session's experiments already in the store (a source imported before, grown since)
    earlier: list[ExperimentRecord] = field(default_factory=list)

    @property
    def records(self) -> list[ExperimentRecord]:
        return [m.record for m in self.rows]


@dataclass
class ImportReport:
    batches: list[Batch]
    results_dir: Path

    @property
    def imported(self) -> int:
        return sum(len(b.rows) for b in self.batches)

    def lines(self) -> list[str]:
        out = []
        for b in self.batches:
            skipped = sum(b.skipped.values())
            out.append(f"{b.source}: {len(b.rows)} imported, {skipped} skipped -> session {b.session_id}")
            for cause, n in sorted(b.skipped.items()):
                if n:
                    out.append(f"  skipped {n}: {cause}")
            flagged = Counter(c for m in b.rows for c in dict.fromkeys(m.causes))
            for cause, n in sorted(flagged.items(), key=lambda kv: (-kv[1], kv[0])):
                out.append(f"  flagged {n}: {cause}")
        return out


def session_id_for(source: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", source.stem if source.is_file() else source.name)[:60].strip(".")
    digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:8]
    return f"import-{stem or 'seed'}-{digest}"


def read_sources(paths: list[Path], registry: Registry) -> list[Batch]:
    """Every source read, mapped and checked (suspect values flagged); nothing is written."""
    sources: list[tuple[Path, list[SeedRow]]] = []
    for path in map(Path, paths):
        if not path.exists():
            raise ConfigError(path, None, "does not exist")
        if path.is_dir():
            sources += [(folder, read_run_folder(folder)) for folder in run_folders(path)]
        else:
            sources.append((path, read_seed_csv(path)[1]))
    batches = []
    seen: set[str] = set()
    for source, rows in sources:
        session_id = session_id_for(source)
        batch = Batch(source, session_id, [])
        for row in rows:
            mapped = map_row(row, source, session_id, len(batch.rows), registry)
            if mapped.record.experiment_id in seen:
                batch.skipped[SKIP_REPEATED] += 1
                continue
            seen.add(mapped.record.experiment_id)
            batch.rows.append(mapped)
        batches.append(batch)
    flag_suspects([m for b in batches for m in b.rows])
    return batches


def import_paths(paths: list[Path], results_dir: Path, registry: Registry) -> ImportReport:
    """Import the sources into the store under `results_dir`; importing again adds nothing."""
    from hyperwatt.store import (
        SessionLayout,
        SessionRow,
        atomic_write_text,
        open_store,
        write_summary,
    )

    batches = read_sources(paths, registry)
    store = open_store(results_dir)
    try:
        stored = store.existing_ids(r.experiment_id for b in batches for r in b.records)
        for b in batches:
            fresh = [m for m in b.rows if m.record.experiment_id not in stored]
            b.skipped[SKIP_STORED] += len(b.rows) - len(fresh)
            b.rows = fresh
            b.earlier = store.experiments(b.session_id) if store.session(b.session_id) else []
            for i, m in enumerate(b.rows):
                m.record.slot = len(b.earlier) + i
        now = time.time()
        store.save_imported(
            (SessionRow(session_id=b.session_id, name=f"import {b.source.name}", plan_path=str(b.source.resolve()),
                        plan_hash="imported", results_dir=str(Path(results_dir).resolve()), started_wall=now,
                        status=IMPORTED_STATUS, planned=0, host=socket.gethostname(), pid=os.getpid(),
                        version=__version__, ended_wall=now), b.records)
            for b in batches if b.rows)
        for b in batches:
            if not b.rows:
                continue
            layout = SessionLayout(results_dir, b.session_id)
            layout.dir.mkdir(parents=True, exist_ok=True)
            write_summary(layout.summary, b.earlier + b.records)
            atomic_write_text(layout.dir / "import.json", json.dumps(_manifest(b), indent=2) + "\n")
    finally:
        store.close()
    return ImportReport(batches, Path(results_dir))


def _manifest(b: Batch) -> dict[str, object]:
    digest = hashlib.sha256()
    if b.source.is_file():
        digest.update(b.source.read_bytes())
    return {"schema_version": IMPORT_SCHEMA_VERSION, "system": "seed (Green-deep-learning)",
            "source": str(b.source.resolve()), "source_sha256": digest.hexdigest() if b.source.is_file() else None,
            "imported_at": time.time(), "hyperwatt_version": __version__}


def read_manifest(path: Path) -> dict[str, object]:
    """An imported session's import.json, its schema version checked."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(path, None, f"cannot read ({exc})") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int) or version < 1:
        raise ConfigError(path, "schema_version", f"must be a positive integer, got {version!r}")
    if version > IMPORT_SCHEMA_VERSION:
        raise ConfigError(path, "schema_version", f"{version} was written by a newer hyperwatt (this one reads up "
                          f"to {IMPORT_SCHEMA_VERSION}): upgrade hyperwatt")
    return data
