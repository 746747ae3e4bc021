"""Slots: where experiments run on this host (one per GPU, or the CPU alone), and running one
experiment on one, cooldown included."""

from __future__ import annotations

from collections.abc import Callable

from hyperwatt.clock import Clock
from hyperwatt.config import Plan
from hyperwatt.engine.context import EngineContext, Slot
from hyperwatt.engine.cooldown import cool_down
from hyperwatt.engine.lifecycle import ExperimentRun
from hyperwatt.mutation import PlannedExperiment
from hyperwatt.records import ExperimentRecord
from hyperwatt.sensors import SensorSet

#: builds the sensors for a plan (its `[sensors]` say which GPUs); None discovers the real ones
SensorsFactory = Callable[[Plan], "SensorSet | None"]


def open_sensors(plan: Plan, factory: SensorsFactory | None, clock: Clock) -> SensorSet | None:
    """The plan's sensors: the factory's (tests pass fakes), else the ones discovered here."""
    if factory is not None:
        return factory(plan)
    from hyperwatt.sensors import discover

    return discover(gpu_indices=plan.sensors.gpus, cpu_tdp_w=plan.sensors.cpu_tdp_w, clock=clock)


def host_slots(sensors: SensorSet | None) -> list[Slot]:
    """One slot per opened GPU (the plan's `sensors.gpus`, or every visible one); the CPU alone without."""
    gpus = sensors.gpus() if sensors is not None else []
    return [Slot(gpu_index=g.index, gpu=g) for g in gpus] or [Slot()]


def run_on_slot(
    ctx: EngineContext,
    pe: PlannedExperiment,
    slot: Slot,
    cool: bool,
    cooling: Callable[[ExperimentRecord], None] | None = None,
) -> ExperimentRecord:
    """One experiment start to finish on `slot`, then (if `cool`) the slot's cooldown, recorded."""
    run = ExperimentRun(ctx, pe, slot)
    record = run.run()
    if cool and record.status != "interrupted" and not ctx.interrupt.is_set():
        if cooling is not None:
            cooling(record)
        run.add_cooldown(cool_down(ctx, run))
    return record
