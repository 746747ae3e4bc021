"""Bringing in what the seed system (Green-deep-learning) measured: its results CSVs and run folders
become imported sessions in the store (see docs/migration.md)."""

from hyperwatt.importing.importer import (
    IMPORT_SCHEMA_VERSION,
    IMPORTED_STATUS,
    Batch,
    ImportReport,
    import_paths,
    read_manifest,
    read_sources,
)
from hyperwatt.importing.mapping import GPU_METHOD

__all__ = ["GPU_METHOD", "IMPORTED_STATUS", "IMPORT_SCHEMA_VERSION", "Batch", "ImportReport", "import_paths",
           "read_manifest", "read_sources"]
