"""Steps: eager warm-up, capture, replay, re-capture on a new learning rate, fallback — with a fake
CUDA graph on the CPU (replaying a fake graph re-runs the recorded Python, as a real one re-runs
the recorded kernels)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import torch

from hyperwatt.workloads import _steps
from hyperwatt.workloads._steps import Steps


class FakeGraph:
    def __init__(self) -> None:
        self.fn: Callable[[], None] | None = None
        self.replays = 0

    def replay(self) -> None:
        assert self.fn is not None
        self.replays += 1
        self.fn()


class FakeStream:
    def __init__(self, device: object = None) -> None:
        self.waits = 0

    def wait_stream(self, other: object) -> None:
        self.waits += 1


class FakeCuda:
    """Installs fakes of the torch.cuda calls Steps makes; records captures."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_capture: bool = False) -> None:
        self.graphs: list[FakeGraph] = []
        self.side_stream_steps = 0
        self._in_side = False
        self.fail_capture = fail_capture
        current = FakeStream()
        monkeypatch.setattr(torch.cuda, "Stream", FakeStream)
        monkeypatch.setattr(torch.cuda, "CUDAGraph", FakeGraph)
        monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: current)
        monkeypatch.setattr(torch.cuda, "stream", self._stream)
        monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
        self.streams_set: list[object] = []
        monkeypatch.setattr(torch.cuda, "set_stream", self.streams_set.append)
        monkeypatch.setattr(_steps, "record", self._record)

    @contextlib.contextmanager
    def _stream(self, stream: FakeStream):  # type: ignore[no-untyped-def]
        self._in_side = True
        try:
            yield
        finally:
            self._in_side = False

    def _record(self, graph: FakeGraph, fn: Callable[[], None]) -> None:
        if self.fail_capture:
            raise RuntimeError("operation not permitted when stream is capturing\nmore detail")
        graph.fn = fn
        self.graphs.append(graph)


class Trainer:
    """A step that records what it trained on; loss = mean index, correct = count of even indices."""

    def __init__(self, cuda: FakeCuda | None = None, lr: float | torch.Tensor = 0.1) -> None:
        self.cuda = cuda
        self.param = torch.nn.Parameter(torch.zeros(1))
        self.optimizer = torch.optim.SGD([self.param], lr=lr)
        self.trained: list[list[int]] = []
        self.on_side: list[bool] = []

    def step(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.trained.append(indices.tolist())
        self.on_side.append(bool(self.cuda and self.cuda._in_side))
        return indices.double().mean(), (indices % 2 == 0).sum()


def _run_epoch(steps: Steps, n: int, **kw: object):  # type: ignore[no-untyped-def]
    return steps.epoch(n, torch.Generator().manual_seed(0), **kw)  # type: ignore[arg-type]


def _expected(batches: list[list[int]]) -> tuple[float, float]:
    count = sum(len(b) for b in batches)
    loss = sum(sum(b) for b in batches) / count  # sum over batches of mean x size, per sample
    correct = sum(1 for b in batches for i in b if i % 2 == 0)
    return loss, correct / count


def test_eager_epoch_trains_every_batch_once_and_tallies() -> None:
    t = Trainer()
    calls = []
    steps = Steps(t.step, [t.optimizer], batch_size=4, device=torch.device("cpu"), graphs=False)
    tally = _run_epoch(steps, 10, after_step=lambda: calls.append(1))
    assert sorted(i for b in t.trained for i in b) == list(range(10))
    assert [len(b) for b in t.trained] == [4, 4, 2]
    assert len(calls) == 3
    loss, accuracy = _expected(t.trained)
    assert tally.count == 10
    assert tally.mean_loss() == pytest.approx(loss)
    assert tally.accuracy() == pytest.approx(accuracy)
    assert steps.take_tally().count == 0  # taken: the next epoch starts from zero


def test_min_batch_skips_a_short_last_batch() -> None:
    t = Trainer()
    steps = Steps(t.step, [t.optimizer], batch_size=4, device=torch.device("cpu"), graphs=False)
    tally = _run_epoch(steps, 9, min_batch=2)
    assert [len(b) for b in t.trained] == [4, 4]
    assert tally.count == 8


def test_graphs_warm_up_on_a_side_stream_then_replay_each_full_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = FakeCuda(monkeypatch)
    t = Trainer(cuda)
    steps = Steps(t.step, [t.optimizer], batch_size=4, device=torch.device("cpu"), graphs=True, warmup=3)
    first = _run_epoch(steps, 26)  # 6 full batches and one of 2
    order = t.trained[:]
    # the capture records the 4th batch without running it; the replay then runs it: every batch once
    assert sorted(i for b in order for i in b) == list(range(26))
    assert [len(b) for b in order] == [4, 4, 4, 4, 4, 4, 2]
    assert t.on_side == [True, True, True, False, False, False, False]
    assert steps.captures == 1 and cuda.graphs[0].replays == 3
    assert first.count == 26
    assert (first.mean_loss(), first.accuracy()) == pytest.approx(_expected(order))
    second = _run_epoch(steps, 26)  # no new capture: all six full batches are replays
    assert steps.captures == 1 and cuda.graphs[0].replays == 9
    assert second.count == 26 and second.mean_loss() == pytest.approx(_expected(t.trained[7:])[0])


def test_a_new_float_learning_rate_is_captured_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = FakeCuda(monkeypatch)
    t = Trainer(cuda, lr=0.1)
    steps = Steps(t.step, [t.optimizer], batch_size=2, device=torch.device("cpu"), graphs=True, warmup=1)
    _run_epoch(steps, 8)
    assert steps.captures == 1
    t.optimizer.param_groups[0]["lr"] = 0.01  # a step schedule's drop
    _run_epoch(steps, 8)
    assert steps.captures == 2 and len(t.trained) == 8


def test_a_tensor_learning_rate_is_read_by_the_graph_not_captured_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = FakeCuda(monkeypatch)
    t = Trainer(cuda, lr=torch.tensor(0.1))
    steps = Steps(t.step, [t.optimizer], batch_size=2, device=torch.device("cpu"), graphs=True, warmup=1)
    lr = t.optimizer.param_groups[0]["lr"]
    _run_epoch(steps, 8, after_step=lambda: lr.mul_(0.5))
    assert steps.captures == 1 and len(t.trained) == 4


def test_a_failed_capture_says_so_once_and_continues_eagerly(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cuda = FakeCuda(monkeypatch, fail_capture=True)
    t = Trainer()
    steps = Steps(t.step, [t.optimizer], batch_size=2, device=torch.device("cpu"), graphs=True, warmup=1)
    tally = _run_epoch(steps, 10)
    assert sorted(i for b in t.trained for i in b) == list(range(10))
    assert tally.count == 10 and steps.captures == 0
    out = capsys.readouterr().out
    assert out.count("cuda graphs: capture failed (operation not permitted when stream is capturing), "
                     "continuing without them") == 1
    assert "more detail" not in out
    assert len(cuda.streams_set) == 1  # the stream current before the capture is current again


def test_a_learning_rate_that_changes_every_step_ends_graph_use(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    FakeCuda(monkeypatch)
    t = Trainer()
    steps = Steps(t.step, [t.optimizer], batch_size=1, device=torch.device("cpu"), graphs=True, warmup=1)
    group = t.optimizer.param_groups[0]
    _run_epoch(steps, 200, after_step=lambda: group.update(lr=group["lr"] * 0.99))
    assert steps.captures == _steps.MAX_CAPTURES
    assert sorted(i for b in t.trained for i in b) == list(range(200))
    assert "the learning rate changes too often" in capsys.readouterr().out


def test_partial_batches_do_not_count_as_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeCuda(monkeypatch)
    t = Trainer()
    steps = Steps(t.step, [t.optimizer], batch_size=4, device=torch.device("cpu"), graphs=True, warmup=2)
    _run_epoch(steps, 6)  # one full batch and one of 2: not yet warm
    assert steps.captures == 0
    _run_epoch(steps, 8)  # second full batch warms up, third is captured
    assert steps.captures == 1


def test_each_epoch_marks_a_training_phase_and_cuda_warm_up_counts_as_startup(monkeypatch: pytest.MonkeyPatch
                                                                              ) -> None:
    marks: list[tuple[str, int | None, int | None, int]] = []
    cuda = FakeCuda(monkeypatch)
    t = Trainer(cuda)
    monkeypatch.setattr(_steps, "mark_phase",
                        lambda name, epoch=None, samples=None: marks.append((name, epoch, samples, len(t.trained))))
    steps = Steps(t.step, [t.optimizer], batch_size=4, device=torch.device("cpu"), graphs=True, warmup=3)
    steps._warm = False  # as on a CUDA device
    _run_epoch(steps, 26)
    _run_epoch(steps, 26)
    # epoch 1: marked after the three warm-up steps and the capture (4 batches, 16 samples), then the rest;
    # epoch 2: marked at its start, every sample
    assert marks == [("train", 1, 10, 4), ("train", 2, 26, 7)]


def test_a_cpu_run_marks_every_epoch_at_its_start(monkeypatch: pytest.MonkeyPatch) -> None:
    marks: list[tuple[str, int | None, int | None]] = []
    monkeypatch.setattr(_steps, "mark_phase", lambda name, epoch=None, samples=None: marks.append((name, epoch, samples)))
    t = Trainer()
    steps = Steps(t.step, [t.optimizer], batch_size=4, device=torch.device("cpu"), graphs=False)
    _run_epoch(steps, 10)
    _run_epoch(steps, 10)
    assert marks == [("train", 1, 10), ("train", 2, 10)]


def test_an_epoch_too_short_to_warm_up_in_is_training_all_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    marks: list[tuple[str, int | None, int | None]] = []
    monkeypatch.setattr(_steps, "mark_phase", lambda name, epoch=None, samples=None: marks.append((name, epoch, samples)))
    t = Trainer()
    steps = Steps(t.step, [t.optimizer], batch_size=4, device=torch.device("cpu"), graphs=False, warmup=3)
    steps._warm = False
    _run_epoch(steps, 10)  # two full batches: fewer than the three warm-up steps
    assert marks == [("train", 1, 10)]
