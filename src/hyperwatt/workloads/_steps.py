"""Training steps replayed from a CUDA graph: one launch per step instead of hundreds.

At the seed's batch sizes the built-in models are small for a modern GPU: launched one kernel at
a time from Python, a step spends most of its time in the CPU's launch path and the GPU idles
between kernels (a digit CNN at batch 32 kept an H200 3 % busy). `Steps` runs a workload's step
function (batch indices in; gradient step done; batch loss and correct count out) like this:

- the first `warmup` full batches eagerly on a side stream (cuDNN autotuning, optimiser state and
  the allocator settle), as PyTorch's whole-network capture recipe asks;
- then it captures one step, gather of the batch by index included, into a CUDA graph and replays
  it for every later full batch: per step the CPU copies the indices and launches the graph;
- a batch of another size (the last, partial one) runs eagerly;
- a float learning rate that changes (a step schedule) triggers a new capture, since the graph
  holds the value; a tensor learning rate (capturable Adam/AdamW) is read by the graph instead.

The loss and correct-count sums are kept on the device inside the graph as well, so the loop never
waits for the GPU. Each `epoch` marks a training phase (a metrics-file phase event with its sample
count); on a CUDA device the first epoch's mark comes after its warm-up steps and capture, which
count as start-up: cuDNN, cuBLAS and the allocator settle there, not in the training. Random draws inside a step must use PyTorch's default generator, which graphs
advance on every replay. If a capture fails, the run says so once and continues eagerly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from hyperwatt.workloads._common import Tally, batches, log, mark_phase

#: One optimisation step on the batch of `indices`: returns (mean batch loss, number correct).
StepFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

WARMUP_STEPS = 3
#: More captures than this (a float learning rate changed almost every step) end graph use.
MAX_CAPTURES = 50


def record(graph: torch.cuda.CUDAGraph, fn: Callable[[], None]) -> None:
    """Capture what `fn` launches into `graph` (tests replace this seam with a fake)."""
    with torch.cuda.graph(graph):
        fn()


class Steps:
    """Runs `step` on batches of indices, from a CUDA graph when `graphs` is on (a CUDA device)."""

    def __init__(self, step: StepFn, optimizers: Sequence[torch.optim.Optimizer], batch_size: int,
                 device: torch.device, graphs: bool, warmup: int = WARMUP_STEPS) -> None:
        self._step = step
        self._optimizers = list(optimizers)
        self._batch_size = batch_size
        self._device = device
        self._graphs = graphs
        self._warmup = warmup
        self._eager_steps = 0
        self._loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self._correct = torch.zeros((), dtype=torch.int64, device=device)
        self._count = 0
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_lr: tuple[float, ...] = ()
        self._static_idx: torch.Tensor | None = None
        self._side = torch.cuda.Stream(device) if graphs else None
        self.captures = 0
        self._epochs = 0
        self._warm = device.type != "cuda"  # the warm-up to leave out of the training phase is CUDA's

    def __call__(self, indices: torch.Tensor) -> None:
        """One training step on the batch `indices` (a 1-d index tensor on the device)."""
        if self._graphs and len(indices) == self._batch_size and self._eager_steps >= self._warmup:
            lr = self._float_lrs()
            if self._graph is None or lr != self._graph_lr:
                if self.captures >= MAX_CAPTURES:
                    self._give_up("the learning rate changes too often to replay a captured step")
                else:
                    self._capture(indices, lr)
            if self._graph is not None:
                assert self._static_idx is not None
                self._static_idx.copy_(indices)
                self._graph.replay()
                self._count += len(indices)
                return
        self._eager(indices)

    def epoch(self, n: int, generator: torch.Generator, min_batch: int = 1,
              after_step: Callable[[], None] | None = None) -> Tally:
        """One shuffled pass over range(n) in batches (smaller than `min_batch`: skipped), calling
        `after_step` after each step (a per-step schedule)."""
        self._epochs += 1
        done = 0
        needed = self._warmup - self._eager_steps + (1 if self._graphs else 0)
        if not self._warm and n // self._batch_size < needed:
            self._warm = True  # an epoch too short to warm up in: it is training all the same
        if self._warm:
            mark_phase("train", epoch=self._epochs, samples=n)
        for indices in batches(n, self._batch_size, generator, self._device):
            if not self._warm and self._warmed_up():
                self._warm = True
                mark_phase("train", epoch=self._epochs, samples=n - done)
            if len(indices) >= min_batch:
                self(indices)
                if after_step is not None:
                    after_step()
            done += len(indices)
        return self.take_tally()

    def _warmed_up(self) -> bool:
        """The warm-up steps ran (and, with graphs, the step is captured)."""
        return self._eager_steps >= self._warmup and (not self._graphs or self._graph is not None)

    def take_tally(self) -> Tally:
        """The loss and accuracy sums since the last call (an epoch's), then zeroed."""
        tally = Tally.of(self._loss_sum.clone(), self._correct.clone(), self._count)
        self._loss_sum.zero_()
        self._correct.zero_()
        self._count = 0
        return tally

    # --- internals -----------------------------------------------------------------------------
    def _accumulate(self, indices: torch.Tensor) -> None:
        loss, correct = self._step(indices)
        self._loss_sum += loss.detach().to(torch.float64) * len(indices)
        self._correct += correct.detach()

    def _eager(self, indices: torch.Tensor) -> None:
        if self._graphs and self._side is not None and self._graph is None:  # warming up for the capture
            current = torch.cuda.current_stream(self._device)
            self._side.wait_stream(current)
            with torch.cuda.stream(self._side):
                self._accumulate(indices)
            current.wait_stream(self._side)
        else:
            self._accumulate(indices)
        if len(indices) == self._batch_size:  # a partial batch does not warm up the full-size step
            self._eager_steps += 1
        self._count += len(indices)

    def _float_lrs(self) -> tuple[float, ...]:
        return tuple(float(group["lr"]) for opt in self._optimizers for group in opt.param_groups
                     if not isinstance(group["lr"], torch.Tensor))

    def _capture(self, indices: torch.Tensor, lr: tuple[float, ...]) -> None:
        """Record one step into a new graph (recording runs nothing: the caller replays it)."""
        self._graph = self._static_idx = None  # frees the previous graph's memory pool first
        static_idx = indices.clone()
        graph = torch.cuda.CUDAGraph()
        for opt in self._optimizers:  # gradients are then allocated inside the graph's pool
            opt.zero_grad(set_to_none=True)
        stream = torch.cuda.current_stream(self._device)
        try:
            record(graph, lambda: self._accumulate(static_idx))
        except RuntimeError as err:
            torch.cuda.set_stream(stream)  # an invalidated capture can leave its own stream current
            torch.cuda.synchronize(self._device)
            self._give_up(f"capture failed ({str(err).splitlines()[0]})")
            return
        self._graph, self._graph_lr, self._static_idx = graph, lr, static_idx
        self.captures += 1

    def _give_up(self, why: str) -> None:
        self._graphs = False
        self._graph = self._static_idx = None
        log(f"cuda graphs: {why}, continuing without them")
