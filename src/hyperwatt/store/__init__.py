"""Persistence: the SQLite store, the results layout, experiment.json, summary.csv, timelines, exports."""

from hyperwatt.store.db import DB_NAME, SessionRow, SlotRow, Store, existing_store, open_store
from hyperwatt.store.files import (
    ExperimentLayout, SessionLayout, atomic_write_text, read_experiment_json, write_experiment_json,
)
from hyperwatt.store.tables import SUMMARY_COLUMNS, export, flatten, frame, write_summary

__all__ = [
    "DB_NAME", "ExperimentLayout", "SUMMARY_COLUMNS", "SessionLayout", "SessionRow", "SlotRow", "Store",
    "atomic_write_text", "existing_store", "export", "flatten", "frame", "open_store", "read_experiment_json",
    "write_experiment_json", "write_summary",
]
