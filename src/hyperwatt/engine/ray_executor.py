"""A Ray task per job, asking for the whole GPU (`num_gpus=1`): each runs hyperwatt's own engine on
its node (`engine/node.py`) and streams its result back to the driver, the only writer of the store.

Results survive the driver: each task also leaves its result with a detached *spool* actor named
after the session, so `resume` after a driver `kill -9` collects what finished remotely (by the
experiment's plan position and key, idempotently) and submits only the rest. A node or worker that
dies is retried by Ray up to the plan's `timing.retries`; after that the experiment is recorded as
failed. An interrupt cancels every remote task (their trainings' guards then stop the trees)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from hyperwatt.engine.executors import Executor, ResultHandler
from hyperwatt.engine.jobs import Job, JobResult
from hyperwatt.engine.slots import SensorsFactory
from hyperwatt.errors import ConfigError, HyperwattError

INSTALL_HINT = "the ray executor needs Ray: pip install 'hyperwatt[ray]'"
NAMESPACE = "hyperwatt"
POLL_S = 0.2

#: what a task runs on its node: (job as a dict, the spool actor, the sensors factory) -> result as a dict
TaskBody = Callable[[dict[str, Any], Any, "SensorsFactory | None"], dict[str, Any]]


def import_ray() -> Any:
    """The `ray` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(None, "execution.executor", INSTALL_HINT) from None
    return ray


def spool_name(session_id: str) -> str:
    return f"hyperwatt-spool-{session_id}"


class _Spool:
    """Holds finished results (JSON-able dicts) by plan position until the driver has stored them."""

    def __init__(self) -> None:
        self.results: dict[int, dict[str, Any]] = {}

    def put(self, position: int, result: dict[str, Any]) -> None:
        self.results[position] = result

    def take(self, positions: list[int]) -> list[dict[str, Any]]:
        return [self.results[p] for p in positions if p in self.results]

    def forget(self, position: int) -> None:
        self.results.pop(position, None)


def run_remote(job_data: dict[str, Any], spool: Any, sensors_factory: SensorsFactory | None) -> dict[str, Any]:
    """The task body on the node: run the job on the GPU Ray assigned, leave the result with the spool."""
    import ray

    from hyperwatt.engine.node import run_job

    job = Job.from_dict(job_data)
    gpu_ids = [int(g) for g in ray.get_gpu_ids()] if job.slot.gpus else []
    result = run_job(job, gpu_ids, sensors_factory, python=sys.executable).to_dict()
    try:  # the spool only matters if the driver dies meanwhile: the result goes back either way
        ray.get(spool.put.remote(job.position, result))
    except ray.exceptions.RayError:
        pass
    return result


class RayExecutor(Executor):
    """Jobs as Ray tasks on a cluster (`address`; none: $RAY_ADDRESS, else a local Ray instance)."""

    def __init__(
        self,
        session_id: str,
        address: str | None = None,
        working_dir: str | None = None,
        retries: int = 2,
        sensors_factory: SensorsFactory | None = None,
        lost: Callable[[Job, str], JobResult] | None = None,
        message: Callable[[str], None] | None = None,
        task_body: TaskBody | None = None,
    ) -> None:
        self.ray = import_ray()
        self.session_id = session_id
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.working_dir = working_dir
        self.retries = retries
        self.sensors_factory = sensors_factory
        self.lost = lost
        self.message = message or (lambda text: None)
        self.task_body = task_body or run_remote

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        runtime_env = {"working_dir": self.working_dir} if self.working_dir else None
        try:
            ray.init(
                address=self.address,
                namespace=NAMESPACE,
                runtime_env=runtime_env,
                ignore_reinit_error=True,
                log_to_driver=False,
                logging_level="warning",
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local Ray instance"
            raise HyperwattError(f"cannot connect to the Ray cluster at {where}: {exc}") from None

    def run(self, jobs: Sequence[Job], on_result: ResultHandler, interrupt: threading.Event) -> None:
        ray = self.ray
        self._connect()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # on the driver's node (the head's, for a client): a worker node's death must not take it along
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)
        spool = (
            ray.remote(num_cpus=0)(_Spool)
            .options(
                name=spool_name(self.session_id),
                namespace=NAMESPACE,
                lifetime="detached",
                get_if_exists=True,
                max_restarts=-1,
                scheduling_strategy=here,
            )
            .remote()
        )
        by_position = {job.position: job for job in jobs}
        # finished remotely while no driver was there to store them (the driver was killed)
        for data in ray.get(spool.take.remote(list(by_position))):
            earlier = JobResult.from_dict(data)
            by_position.pop(earlier.position, None)
            on_result(earlier)
            spool.forget.remote(earlier.position)
        task = ray.remote(self.task_body)
        refs: dict[Any, Job] = {}
        for job in by_position.values():
            options: dict[str, Any] = {
                "num_gpus": job.slot.gpus,
                "max_retries": self.retries,
                "retry_exceptions": False,
            }
            if not job.slot.gpus:
                options["num_cpus"] = 1
            refs[task.options(**options).remote(job.to_dict(), spool, self.sensors_factory)] = job
        try:
            while refs:
                if interrupt.is_set():
                    return
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    job = refs.pop(ref)
                    result = self._result(ref, job)
                    if result is not None:
                        on_result(result)
                        spool.forget.remote(job.position)
        finally:
            for ref in refs:  # interrupted, or the driver failed: leave nothing running
                ray.cancel(ref, force=True)
            if not refs:
                ray.kill(spool)

    def _result(self, ref: Any, job: Job) -> JobResult | None:
        try:
            return JobResult.from_dict(self.ray.get(ref))
        except self.ray.exceptions.RayError as exc:
            reason = (
                f"the Ray task failed after {self.retries} retr{'y' if self.retries == 1 else 'ies'}: {_short(exc)}"
            )
            self.message(f"{job.label}: {reason}")
            return self.lost(job, reason) if self.lost is not None else None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"
