"""An experiment's record, finished and saved: leak scan, end time, the timeline, validity flags;
the driver's `save_record`, and the process tokens an experiment may have handed out."""

from __future__ import annotations

from hyperwatt.config import ParallelPolicy
from hyperwatt.engine import energy as energy_mod
from hyperwatt.engine.context import EngineContext
from hyperwatt.process import kill_tagged, leak_scan
from hyperwatt.records import ExperimentRecord
from hyperwatt.store import ExperimentLayout, SessionLayout, Store, write_experiment_json
from hyperwatt.verify import checks


def finish(
    ctx: EngineContext, rec: ExperimentRecord, layout: ExperimentLayout, tokens: list[str], policy: ParallelPolicy
) -> None:
    """Kill and name what leaked, close the record's times, write its timeline, check it, save it."""
    leaks = leak_scan(tokens)
    rec.leaks = [f"pid {leak.pid}: {leak.cmdline}" for leak in leaks]
    for leak_token in {leak.token for leak in leaks}:
        kill_tagged(leak_token, grace_s=0.5)
    rec.ended_wall = ctx.clock.time()
    done = [a for a in rec.attempts if a.duration_s is not None]
    rec.duration_s = done[-1].duration_s if done else None
    if done:
        rec.argv = done[-1].argv
    if ctx.monitor is not None:
        from hyperwatt.store.timeline import write_timeline_csv

        started = rec.started_wall or rec.ended_wall
        span = rec.ended_wall - started
        t_end = ctx.clock.monotonic()
        samples = ctx.monitor.samples(None, t_end - span - 1.0, t_end)
        write_timeline_csv(layout.timeline, samples)
        rec.energy.timeline = layout.relative(layout.timeline)
    energy_mod.settle_unmeasured(rec, ctx.monitor is not None)
    checks.apply(rec, policy)
    ctx.save(rec)


def save_record(layout: SessionLayout, store: Store, record: ExperimentRecord) -> None:
    """experiment.json (atomic) first, then the store row (one transaction)."""
    write_experiment_json(layout.experiment(record.experiment_id), record)
    store.save_experiment(record)


def tokens_of(record: ExperimentRecord) -> list[str]:
    """Every process token an experiment may have handed out (for cleaning up after a crash)."""
    base = f"hw-{record.experiment_id}"
    # the attempt in flight when the runner died is not in the record yet
    return [f"{base}-bg"] + [f"{base}-a{n}" for n in range(1, len(record.attempts) + 2)]
