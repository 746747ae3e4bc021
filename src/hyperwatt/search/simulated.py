"""A simulated training with a known energy x accuracy surface, for the search benchmark and tests.

Energy grows with epochs and falls with batch size (fewer, fuller steps); accuracy saturates with
epochs, peaks at a learning rate that depends on the batch size, and drops for huge batches. Its
true Pareto front is found by dense evaluation, so a search's hypervolume can be compared with it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import deque

from hyperwatt.config.workload import Workload
from hyperwatt.records import Energy, ExperimentRecord
from hyperwatt.search.driver import TrialRequest

WORKLOAD = Workload.model_validate({
    "name": "simulated/net", "argv": ["{python}", "train.py"],
    "hyperparameters": {
        "learning_rate": {"flag": "--lr", "type": "float", "default": 0.01, "range": [1e-4, 0.3],
                          "distribution": "log_uniform"},
        "batch_size": {"flag": "--batch-size", "type": "int", "default": 64, "range": [8, 512],
                       "distribution": "log_uniform"},
        "epochs": {"flag": "--epochs", "type": "int", "default": 10, "range": [1, 30]},
    },
    "metrics": {"required": ["accuracy"], "goals": {"accuracy": "max"}},
})


def energy_j(lr: float, batch: int, epochs: int) -> float:
    return epochs * (400.0 + 24_000.0 / batch) + 300.0


def accuracy(lr: float, batch: int, epochs: int) -> float:
    best_lr = 0.004 * math.sqrt(batch / 16)
    lr_term = math.exp(-(math.log(lr / best_lr) ** 2) / 8.0)
    epoch_term = 1 - math.exp(-epochs / 6)
    batch_term = 1 - 0.15 * max(0.0, math.log2(batch / 128))
    return 0.1 + 0.88 * lr_term * epoch_term * batch_term


def hypervolume(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """2-D hypervolume of (energy to minimise, accuracy to maximise) points against `ref` (worst corner)."""
    front = sorted((e, a) for e, a in points if e < ref[0] and a > ref[1])
    hv, best_acc = 0.0, ref[1]
    for i, (e, a) in enumerate(front):
        if a <= best_acc:
            continue
        nxt = next((front[j][0] for j in range(i + 1, len(front)) if front[j][1] > a), ref[0])
        hv += (nxt - e) * (a - ref[1])  # slab from this point's energy to the next better point's
        best_acc = a
    return hv


#: The corner hypervolumes are measured from: the default setting's energy x 1.5 and accuracy 0.6, so
#: the region that counts is "useful accuracy at no more than 1.5x the default's energy".
REFERENCE_POINT = (energy_j(0.01, 64, 10) * 1.5, 0.6)


def true_hypervolume(n: int = 60) -> float:
    """The front's hypervolume from a dense grid (log-spaced learning rates and batch sizes)."""
    lrs = [1e-4 * (0.3 / 1e-4) ** (k / (n - 1)) for k in range(n)]
    batches = sorted({int(round(8 * (512 / 8) ** (k / (n - 1)))) for k in range(n)})
    pts = [(energy_j(lr, b, e), accuracy(lr, b, e)) for lr, b, e in itertools.product(lrs, batches, range(1, 31))]
    return hypervolume(pts, REFERENCE_POINT)


class SimulatedEvaluator:
    """Runs trial requests on the surface (with a little measurement noise) and returns records."""

    def __init__(self, slots: int = 1, noise: float = 0.01, seed: int = 0, fail_numbers: frozenset[int] = frozenset()) -> None:
        self.slots = slots
        self._rng = random.Random(seed)
        self._noise = noise
        self._fail = set(fail_numbers)
        self._queue: deque[TrialRequest] = deque()
        self.submitted: list[TrialRequest] = []

    def submit(self, request: TrialRequest) -> None:
        self._queue.append(request)
        self.submitted.append(request)

    def next_done(self) -> tuple[TrialRequest, ExperimentRecord]:
        req = self._queue.popleft()
        v = {k: val.typed for k, val in req.values.items()}
        lr, batch, epochs = float(v["learning_rate"]), int(v["batch_size"]), int(v["epochs"])
        e = energy_j(lr, batch, epochs) * (1 + self._rng.gauss(0, self._noise))
        acc = accuracy(lr, batch, epochs) + self._rng.gauss(0, self._noise / 10)
        invalid = req.number in self._fail
        record = ExperimentRecord(
            experiment_id=f"sim-{req.number}", session_id="sim", slot=req.number, label="search",
            workload=WORKLOAD.name, mode="sequential", status="invalid" if invalid else "succeeded",
            status_reason="background_ineffective" if invalid else "", key=str(sorted(v.items())), key_hash="x",
            hyperparameters=v, metrics={"accuracy": acc},
            energy=Energy(available=True, duration_s=epochs * 2.0, gpu_energy_j=e, total_energy_j=e * 1.1))
        return req, record
