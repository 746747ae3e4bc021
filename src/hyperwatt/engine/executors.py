"""Executors run jobs and hand each result to the driver; they never write the store themselves.

One interface, two backends: `LocalExecutor` (one slot per GPU of this host, each a thread taking
the next job when free) and `RayExecutor` (`engine/ray_executor.py`: a Ray task per job)."""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from hyperwatt.engine.context import Slot
from hyperwatt.engine.jobs import Job, JobResult

#: runs one job on one local slot; `more` says whether more work may follow on that slot (cooldown)
SlotRunner = Callable[[Job, Slot, bool], JobResult]
#: the driver's handler of each result (writes the store, the summary, the progress)
ResultHandler = Callable[[JobResult], None]


class Executor(ABC):
    """Runs jobs until done or interrupted. `on_result` is called once per finished job, one call at
    a time; an interrupt stops taking new jobs and ends the running ones."""

    @abstractmethod
    def run(self, jobs: Sequence[Job], on_result: ResultHandler, interrupt: threading.Event) -> None: ...


class LocalExecutor(Executor):
    """Jobs in plan order; with several GPUs, each GPU's slot takes the next one when free."""

    def __init__(self, slots: Sequence[Slot], run_job: SlotRunner) -> None:
        if not slots:
            raise ValueError("LocalExecutor needs at least one slot")
        self.slots = list(slots)
        self.run_job = run_job
        self._results = threading.Lock()

    def run(self, jobs: Sequence[Job], on_result: ResultHandler, interrupt: threading.Event) -> None:
        todo: queue.Queue[Job] = queue.Queue()
        for job in jobs:
            todo.put(job)
        if len(self.slots) == 1:
            self._drain(self.slots[0], todo, on_result, interrupt)
            return
        errors: list[BaseException] = []

        def worker(slot: Slot) -> None:
            try:
                self._drain(slot, todo, on_result, interrupt)
            except BaseException as exc:  # surfaced in the calling thread
                errors.append(exc)
                interrupt.set()

        threads = [threading.Thread(target=worker, args=(s,), name=f"slot-{s.label}", daemon=True) for s in self.slots]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)
        if errors:
            raise errors[0]

    def _drain(self, slot: Slot, todo: queue.Queue[Job], on_result: ResultHandler, interrupt: threading.Event) -> None:
        while not interrupt.is_set():
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            result = self.run_job(job, slot, not todo.empty())
            with self._results:
                on_result(result)
