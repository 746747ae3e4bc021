"""Executors run planned experiments on slots. Local: one slot per GPU, one experiment per slot at a time."""

from __future__ import annotations

import queue
import threading
from typing import Callable, Protocol, Sequence

from hyperwatt.engine.context import Slot
from hyperwatt.mutation import PlannedExperiment

Work = Callable[[PlannedExperiment, Slot, bool], object]  # (experiment, slot, more work follows on this slot)


class Executor(Protocol):
    def run(self, items: Sequence[PlannedExperiment], work: Work, interrupt: threading.Event) -> None: ...


class LocalExecutor:
    """Experiments in plan order; with several GPUs, each GPU's slot takes the next one when free."""

    def __init__(self, slots: Sequence[Slot]) -> None:
        if not slots:
            raise ValueError("LocalExecutor needs at least one slot")
        self.slots = list(slots)

    def run(self, items: Sequence[PlannedExperiment], work: Work, interrupt: threading.Event) -> None:
        todo: queue.Queue[PlannedExperiment] = queue.Queue()
        for item in items:
            todo.put(item)
        if len(self.slots) == 1:
            self._drain(self.slots[0], todo, work, interrupt)
            return
        errors: list[BaseException] = []

        def worker(slot: Slot) -> None:
            try:
                self._drain(slot, todo, work, interrupt)
            except BaseException as exc:  # surfaced in the calling thread
                errors.append(exc)
                interrupt.set()

        threads = [threading.Thread(target=worker, args=(s,), name=f"slot-{s.label}", daemon=True)
                   for s in self.slots]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)
        if errors:
            raise errors[0]

    @staticmethod
    def _drain(slot: Slot, todo: queue.Queue[PlannedExperiment], work: Work, interrupt: threading.Event) -> None:
        while not interrupt.is_set():
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            work(item, slot, not todo.empty())
