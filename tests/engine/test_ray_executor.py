"""The Ray executor on a real local Ray cluster (a head and two worker nodes, CPU only, each worker
declaring one fake GPU): CPU trainings measured with fake GPU sensors built on each node.

All experiments recorded once; a worker node killed mid-plan and the plan still completing; the
driver killed with SIGKILL, then `resume` collecting what finished remotely and running the rest;
the same experiment keys and verdicts as the same plan run on one local slot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from hyperwatt.config import Registry, load_plan  # noqa: E402
from hyperwatt.engine import SessionEvents, SessionOptions, resume, run_plan  # noqa: E402
from hyperwatt.errors import StoreError  # noqa: E402
from hyperwatt.records import ExperimentRecord  # noqa: E402
from hyperwatt.sensors.fake import FakeGpus  # noqa: E402
from hyperwatt.store import open_store  # noqa: E402
from tests.conftest import TOY_TRAIN, TOY_WORKLOAD  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # a real cluster: ~75 s of a 2-core machine

TIMING = """
[timing]
idle_baseline_s = 0
retries = 2
retry_delay_s = 0
[timing.cooldown]
min_s = 0
max_s = 0
"""


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    workers = [c.add_node(num_cpus=1, num_gpus=1) for _ in range(2)]
    ray.init(address=c.address, namespace="hyperwatt", log_to_driver=False)
    c.wait_for_nodes()
    yield c, workers
    ray.shutdown()
    c.shutdown()


def _project(tmp_path: Path, experiments: str, name: str = "scale") -> Path:
    (tmp_path / "train.py").write_text(TOY_TRAIN)
    plan = tmp_path / "plan.toml"
    plan.write_text(f'name = "{name}"\nseed = 3\n{TIMING}\n{TOY_WORKLOAD}\n{textwrap.dedent(experiments)}')
    return plan


FOUR = """
[[experiments]]
workload = "toy/net"
hyperparameters = { sleep = SLEEP }
mutate = { parameters = ["lr"], mutations = 4 }
"""


def _options(root: Path, address: str | None, **kw) -> SessionOptions:
    executor = "ray" if address else "local"
    return SessionOptions(results_dir=root / "results", executor=executor, ray_address=address,
                          sensors_factory=FakeGpus(), **kw)


def _final(records: list[ExperimentRecord]) -> dict[int, ExperimentRecord]:
    counts = Counter(r.slot for r in records if r.status != "interrupted")
    assert all(n == 1 for n in counts.values()), counts  # recorded once
    return {r.slot: r for r in records if r.status != "interrupted"}


def test_every_experiment_runs_on_a_node_and_is_recorded_once(cluster, tmp_path):
    c, _ = cluster
    plan = _project(tmp_path, FOUR.replace("SLEEP", "0.0"))
    result = run_plan(load_plan(plan, Registry.builtin()), _options(tmp_path, c.address))
    final = _final(result.records)
    assert sorted(final) == [0, 1, 2, 3]
    for rec in final.values():
        assert rec.status == "succeeded", rec.status_reason
        folder = result.layout.dir / rec.experiment_id
        assert (folder / "experiment.json").exists() and (folder / "attempt-1" / "training.log").read_text()
        assert rec.energy.gpu_energy_j is not None and rec.energy.gpu_energy_j > 0  # the node's fake GPU
        assert rec.environment["slot"] == "gpu0"
        assert (folder / rec.energy.timeline).exists()
    with open_store(tmp_path / "results", readonly=True) as store:
        assert store.session(result.session_id).status == "completed"
        assert len(store.experiments(result.session_id)) == 4
    # the spool actor is gone once the driver stored everything
    with pytest.raises(ValueError):
        ray.get_actor(f"hyperwatt-spool-{result.session_id}", namespace="hyperwatt")


class _FirstFinished(SessionEvents):
    def __init__(self) -> None:
        self.first = threading.Event()

    def experiment_finished(self, record: ExperimentRecord) -> None:
        self.first.set()


def test_a_worker_node_killed_mid_plan_and_the_plan_completes(cluster, tmp_path):
    c, workers = cluster
    plan = _project(tmp_path, FOUR.replace("SLEEP", "1.5"))
    events = _FirstFinished()
    out: dict[str, object] = {}
    driver = threading.Thread(target=lambda: out.update(
        result=run_plan(load_plan(plan, Registry.builtin()), _options(tmp_path, c.address), events)))
    driver.start()
    try:
        assert events.first.wait(120)
        victim = workers.pop(0)
        c.remove_node(victim, allow_graceful=False)  # its running task dies with it: retried elsewhere
        driver.join(180)
        assert not driver.is_alive()
    finally:
        workers.append(c.add_node(num_cpus=1, num_gpus=1))
        c.wait_for_nodes()
    result = out["result"]
    final = _final(result.records)
    assert sorted(final) == [0, 1, 2, 3]
    assert all(r.status == "succeeded" for r in final.values()), [r.status_reason for r in final.values()]


DRIVER = """
import sys
from pathlib import Path
from hyperwatt.config import Registry, load_plan
from hyperwatt.engine import SessionOptions, run_plan
from hyperwatt.sensors.fake import FakeGpus
plan, address = sys.argv[1:]
options = SessionOptions(results_dir=Path(plan).parent / "results", executor="ray", ray_address=address,
                         sensors_factory=FakeGpus())
run_plan(load_plan(Path(plan), Registry.builtin()), options)
"""


def _start_driver(plan: Path, address: str) -> subprocess.Popen:
    """The driver in its own process (so a test can kill it), on this checkout's source."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(plan), address], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_driver_killed_then_resume_collects_remote_results_and_runs_the_rest(cluster, tmp_path):
    c, _ = cluster
    plan = _project(tmp_path, FOUR.replace("SLEEP", "1.0"))
    driver = _start_driver(plan, c.address)
    db = tmp_path / "results" / "hyperwatt.db"
    end = time.monotonic() + 150
    stored = 0
    while time.monotonic() < end and driver.poll() is None:
        if db.exists():
            try:
                with open_store(tmp_path / "results", readonly=True) as store:
                    stored = sum(len(store.experiments(s.session_id)) for s in store.sessions())
            except StoreError:  # the driver is still creating it
                stored = 0
            if stored:
                break
        time.sleep(0.2)
    assert driver.poll() is None and stored >= 1
    driver.send_signal(signal.SIGKILL)
    driver.wait(10)
    with open_store(tmp_path / "results", readonly=True) as store:
        (session,) = store.sessions()
        before = {r.slot for r in store.experiments(session.session_id)}
    assert session.status == "running" and len(before) < 4
    result = resume(session.session_id, _options(tmp_path, c.address))
    final = _final(result.records)
    assert sorted(final) == [0, 1, 2, 3]
    assert all(r.status == "succeeded" for r in final.values())
    with open_store(tmp_path / "results", readonly=True) as store:
        assert store.session(session.session_id).status == "completed"


def test_local_one_slot_and_ray_give_the_same_keys_and_verdicts(cluster, tmp_path):
    c, _ = cluster
    body = """
    [[experiments]]
    workload = "toy/net"
    mutate = { parameters = ["lr"], mutations = 2 }
    [[experiments]]
    workload = "toy/net"
    hyperparameters = { exit_code = 3 }
    """
    verdicts = []
    for where, address in (("local", None), ("ray", c.address)):
        root = tmp_path / where
        root.mkdir()
        plan = _project(root, body)
        result = run_plan(load_plan(plan, Registry.builtin()), _options(root, address))
        verdicts.append(sorted((r.key_hash, r.status, r.valid, tuple(sorted(f.code for f in r.flags)))
                               for r in _final(result.records).values()))
    local, remote = verdicts
    assert [v[0] for v in local] == [v[0] for v in remote] and len(local) == 3
    assert local == remote
    assert {v[1] for v in local} == {"succeeded", "failed"}


def _trainings_in(folder: Path) -> list[int]:
    """Live toy trainings started for this project (their working directory is `folder`)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "train.py" in (proc.info["cmdline"] or []) and Path(proc.cwd()) == folder:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def test_ctrl_c_cancels_the_remote_tasks_and_leaves_nothing_running(cluster, tmp_path):
    c, _ = cluster
    plan = _project(tmp_path, FOUR.replace("SLEEP", "30.0"))
    driver = _start_driver(plan, c.address)
    end = time.monotonic() + 120
    while time.monotonic() < end and not _trainings_in(tmp_path):
        time.sleep(0.2)
    assert _trainings_in(tmp_path), "no training started on the cluster"
    driver.send_signal(signal.SIGINT)
    driver.wait(60)
    end = time.monotonic() + 30
    while time.monotonic() < end and _trainings_in(tmp_path):
        time.sleep(0.2)
    assert _trainings_in(tmp_path) == []
    with open_store(tmp_path / "results", readonly=True) as store:
        (session,) = store.sessions()
        assert session.status == "interrupted" and store.experiments(session.session_id) == []
