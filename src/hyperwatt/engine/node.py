"""hyperwatt's own engine on a node that runs a job for a driver elsewhere (a Ray task): the node's own
sensors, idle baseline and cooldown; the experiment folder is written in a scratch directory and sent
back whole in the `JobResult`. The node never opens the driver's store."""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from hyperwatt.clock import SYSTEM_CLOCK, Clock
from hyperwatt.engine import environment
from hyperwatt.engine.context import EngineContext
from hyperwatt.engine.jobs import Job, JobResult, collect_files
from hyperwatt.engine.slots import SensorsFactory, host_slots, open_sensors, run_on_slot
from hyperwatt.store import SessionLayout


def run_job(
    job: Job,
    gpu_ids: list[int] | None,
    sensors_factory: SensorsFactory | None = None,
    python: str = sys.executable,
    clock: Clock = SYSTEM_CLOCK,
    interrupt: threading.Event | None = None,
) -> JobResult:
    """Run one job here on the GPUs this node gave it (`gpu_ids`: NVML indices; None: the plan's own
    choice; []: none), then cool that GPU down for whatever runs next on it."""
    with tempfile.TemporaryDirectory(prefix="hyperwatt-job-") as scratch:
        root = Path(scratch)
        loaded, pe = job.resolve(root)
        plan = loaded.plan
        if gpu_ids is not None:
            plan = plan.model_copy(update={"sensors": plan.sensors.model_copy(update={"gpus": list(gpu_ids)})})
        sensors = open_sensors(plan, sensors_factory, clock)
        monitor = None
        try:
            if sensors is not None:
                from hyperwatt.sensors import Monitor

                monitor = Monitor(
                    sensors, rate_hz=plan.sensors.rate_hz, clock=clock, lock_interval_s=plan.sensors.lock_interval_s
                )
                monitor.start()
            layout = SessionLayout(root / "results", job.session_id)
            layout.dir.mkdir(parents=True)
            ctx = EngineContext(
                session_id=job.session_id,
                layout=layout,
                store=None,
                plan=plan,
                plan_hash=job.plan_hash,
                environment=environment.capture(sensors, job.plan_hash),
                monitor=monitor,
                sensors=sensors,
                clock=clock,
                python=python,
            )
            if interrupt is not None:
                ctx.interrupt = interrupt
            record = run_on_slot(ctx, pe, host_slots(sensors)[0], cool=True)
        finally:
            if monitor is not None:
                monitor.stop()
            if sensors is not None:
                sensors.close()
        return JobResult(job.position, record, collect_files(layout.experiment(record.experiment_id).dir))
