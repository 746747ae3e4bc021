"""The experiment lifecycle, sessions (run, resume) and executors."""

from hyperwatt.engine.context import EngineContext, Interrupted, Slot
from hyperwatt.engine.session import (
    AlreadyComplete, SessionEvents, SessionOptions, SessionResult, find_resumable, resume, run_plan,
    unfinished_versions,
)

__all__ = [
    "AlreadyComplete", "EngineContext", "Interrupted", "SessionEvents", "SessionOptions", "SessionResult", "Slot",
    "find_resumable", "resume", "run_plan", "unfinished_versions",
]
