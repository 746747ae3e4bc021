"""SIGINT/SIGTERM/SIGHUP turn into an interrupt flag the lifecycle polls; exit codes follow the shell's."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SignalState:
    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self.signum: int | None = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


@contextmanager
def interrupt_on_signals(event: threading.Event) -> Iterator[SignalState]:
    """Install handlers (main thread only) for the duration; the previous ones come back after."""
    state = SignalState(event)
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum: int, _frame: object) -> None:
        if state.signum is None:
            state.signum = signum
        event.set()

    previous = {s: signal.signal(s, handler) for s in HANDLED}
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
