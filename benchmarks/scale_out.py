"""Executor throughput with N slots, in simulated time: does N GPUs give N x the experiments per hour?

Each experiment is simulated: it holds its slot for `--experiment-s` real seconds, which stand for
`--simulated-min` minutes of training (a measured window, baseline and cooldown), so what is
measured is the executors' own cost: queueing, threads, Ray's scheduling, result streaming. The
local executor runs N slot threads; the Ray executor runs a task per experiment on a local Ray
instance declaring N fake GPUs (its workers warmed first: a cluster starts them once, not once per
experiment). Throughput is the steady state's experiments per simulated hour (the slope between a
run of k and of 2k experiments per slot; a session's one-off start-up is shown apart); the ratio is
throughput / (N x the throughput of one slot at 100 %), and the target is >= 0.9.

    PYTHONPATH=src python3 benchmarks/scale_out.py --out results/bench            # local and Ray, N = 1 2 4 8
    PYTHONPATH=src python3 benchmarks/scale_out.py --executors local --slots 2 4  # quick
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from hyperwatt.engine.context import Slot
from hyperwatt.engine.executors import LocalExecutor
from hyperwatt.engine.jobs import Job, JobResult, SlotRequest
from hyperwatt.records import ExperimentRecord

TARGET = 0.9


def _record(job: Job) -> ExperimentRecord:
    return ExperimentRecord(
        experiment_id=f"sim-{job.position}",
        session_id=job.session_id,
        slot=job.position,
        label=job.label,
        workload="sim/experiment",
        mode="sequential",
        status="succeeded",
        key="{}",
        key_hash=job.key_hash,
    )


def _jobs(count: int) -> list[Job]:
    return [
        Job(
            session_id="bench",
            position=i,
            key_hash=f"k{i}",
            label=f"sim {i}",
            plan_toml="",
            plan_hash="",
            slot=SlotRequest(gpus=1),
        )
        for i in range(count)
    ]


def run_local(slots: int, per_slot: int, experiment_s: float) -> float:
    """Wall seconds for slots x per_slot simulated experiments on N local slots."""

    def simulate(job: Job, slot: Slot, more: bool) -> JobResult:
        time.sleep(experiment_s)
        return JobResult(job.position, _record(job))

    done: list[int] = []
    executor = LocalExecutor([Slot(gpu_index=i) for i in range(slots)], simulate)
    start = time.monotonic()
    executor.run(_jobs(slots * per_slot), lambda r: done.append(r.position), threading.Event())
    wall = time.monotonic() - start
    assert sorted(done) == list(range(slots * per_slot))
    return wall


def _simulated_task(job_data: dict[str, Any], spool: Any, sensors_factory: Any) -> dict[str, Any]:
    """A Ray task body standing for one experiment: hold the GPU for the job's simulated time."""
    import time as _time

    from hyperwatt.engine.jobs import Job as _Job

    job = _Job.from_dict(job_data)
    _time.sleep(float(job.plan_hash))  # the simulated duration travels in the job
    return JobResult(job.position, _record(job)).to_dict()


def run_ray(slots: int, per_slot: int, experiment_s: float) -> float:
    """Wall seconds for the same work as Ray tasks (num_gpus=1 each) on a local Ray with N fake GPUs."""
    import ray

    from hyperwatt.engine.ray_executor import RayExecutor

    def session(name: str, per: int, seconds: float) -> float:
        jobs = [
            Job(
                session_id=name,
                position=j.position,
                key_hash=j.key_hash,
                label=j.label,
                plan_toml="",
                plan_hash=str(seconds),
                slot=j.slot,
            )
            for j in _jobs(slots * per)
        ]
        done: list[int] = []
        start = time.monotonic()
        RayExecutor(name, task_body=_simulated_task).run(jobs, lambda r: done.append(r.position), threading.Event())
        wall = time.monotonic() - start
        assert sorted(done) == list(range(slots * per))
        return wall

    ray.init(
        address="local",
        num_cpus=slots,
        num_gpus=slots,
        namespace="hyperwatt",
        log_to_driver=False,
        include_dashboard=False,
    )
    try:
        session(f"warm-{slots}", 1, 0.05)  # a cluster starts its workers once, not once per experiment
        return session(f"bench-{slots}-{per_slot}", per_slot, experiment_s)
    finally:
        ray.shutdown()


def measure(executor: str, slots: int, per_slot: int, experiment_s: float, simulated_min: float) -> dict[str, Any]:
    """Steady-state throughput: the slope between a short and a long run of the same executor, so a
    session's one-off cost (connecting, the spool actor) is reported apart (`fixed_s`) instead of
    being charged, scaled up to simulated hours, to every experiment."""
    run = run_local if executor == "local" else run_ray
    short, long = per_slot, 2 * per_slot
    wall_short, wall_long = run(slots, short, experiment_s), run(slots, long, experiment_s)
    experiments = slots * (long - short)
    wall = max(wall_long - wall_short, 1e-9)
    hours = wall / experiment_s * simulated_min / 60  # the wall time in simulated hours
    per_hour = experiments / hours
    ideal_one_slot = 60 / simulated_min
    ratio = per_hour / (slots * ideal_one_slot)
    fixed = wall_short - short * experiment_s * (wall / (experiments / slots * experiment_s))
    return {
        "executor": executor,
        "slots": slots,
        "experiments": slots * (short + long),
        "wall_s": [round(wall_short, 3), round(wall_long, 3)],
        "fixed_s": round(max(fixed, 0.0), 2),
        "experiments_per_hour": round(per_hour, 2),
        "ideal_per_hour": round(slots * ideal_one_slot, 2),
        "ratio": round(ratio, 3),
        "meets_target": ratio >= TARGET,
    }


def table(rows: list[dict[str, Any]], simulated_min: float) -> str:
    lines = [
        f"| executor | slots (N) | experiments | experiments / simulated h | N x one slot | ratio (>= {TARGET}) "
        "| one-off per session |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['executor']} | {r['slots']} | {r['experiments']} | {r['experiments_per_hour']:.2f} | "
            f"{r['ideal_per_hour']:.2f} | {r['ratio']:.3f} {'ok' if r['meets_target'] else 'BELOW'} | "
            f"{r['fixed_s']:.1f} s |"
        )
    lines.append(f"\n(one experiment = {simulated_min:g} simulated minutes)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executors", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    parser.add_argument("--slots", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument(
        "--per-slot", type=int, default=3, help="experiments per slot in the short run (2x in the long)"
    )
    parser.add_argument("--experiment-s", type=float, default=2.0, help="real seconds one experiment holds its slot")
    parser.add_argument("--simulated-min", type=float, default=30.0, help="the minutes those seconds stand for")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = [
        measure(e, n, args.per_slot, args.experiment_s, args.simulated_min) for e in args.executors for n in args.slots
    ]
    text = table(rows, args.simulated_min)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "scale_out.json").write_text(json.dumps(rows, indent=2) + "\n")
        (args.out / "scale_out.md").write_text(text + "\n")
    print(text)
    return 0 if all(r["meets_target"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
