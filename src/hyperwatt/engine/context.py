"""What every experiment of a session shares: store, layout, plan, clock, sensors, interrupt flag."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.config import Plan
from hyperwatt.engine.prepare import PrepareSteps
from hyperwatt.sensors import GpuSensor, IdleBaseline, Monitor, SensorSet
from hyperwatt.records import ExperimentRecord
from hyperwatt.store import SessionLayout, Store, write_experiment_json


class Interrupted(Exception):
    """The runner was asked to stop (SIGINT/SIGTERM); the experiment in flight is marked interrupted."""


@dataclass
class Slot:
    """Where an experiment runs: one GPU (its NVML index and sensor) or the CPU alone."""

    gpu_index: int | None = None
    gpu: GpuSensor | None = None

    @property
    def label(self) -> str:
        return f"gpu{self.gpu_index}" if self.gpu_index is not None else "cpu"


@dataclass
class EngineContext:
    session_id: str
    layout: SessionLayout
    store: Store | None  # None on a node that runs jobs for a driver elsewhere: the driver writes the store
    plan: Plan
    plan_hash: str
    environment: dict[str, Any]
    monitor: Monitor | None = None
    sensors: SensorSet | None = None
    clock: Clock = SYSTEM_CLOCK
    python: str = sys.executable
    echo: Callable[[str], None] | None = None
    interrupt: threading.Event = field(default_factory=threading.Event)
    #: the coolest idle baseline per sensor seen in this session: what cooldowns aim for
    reference_baselines: dict[str, IdleBaseline] = field(default_factory=dict)
    #: the workloads' prepare steps this session ran (each once, before the first window needing it)
    prepared: PrepareSteps = field(default_factory=PrepareSteps)

    def save(self, record: ExperimentRecord) -> None:
        """experiment.json (atomic) first, then the store row (one transaction) where this process
        writes the store."""
        write_experiment_json(self.layout.experiment(record.experiment_id), record)
        if self.store is not None:
            self.store.save_experiment(record)

    def check_interrupt(self) -> None:
        if self.interrupt.is_set():
            raise Interrupted()

    def pause(self, seconds: float) -> None:
        """Sleep, but wake at once on interrupt (and raise)."""
        end = self.clock.monotonic() + seconds
        while True:
            self.check_interrupt()
            left = end - self.clock.monotonic()
            if left <= 0:
                return
            self.clock.sleep(min(left, 0.05))
