"""The supervised classification epoch and evaluation that several workloads share.

Inputs live on the training device as whole tensors; batches are index slices, so no loader
process or host-to-device copy stalls the GPU, and the loop reads nothing back until it ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads.data import ImageSet
from hyperwatt.workloads._common import (
    Run, Stopwatch, Tally, batches, current_lr, log_epoch, log_final, log_settings, mark_phase,
)
from hyperwatt.workloads._steps import Steps, StepFn

Prepare = Callable[[torch.Tensor], torch.Tensor]


def classification_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                        prepare: Prepare) -> StepFn:
    """One cross-entropy step on the batch x[indices], y[indices]."""

    def step(indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, targets = prepare(x[indices]), y[indices]
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss, (logits.argmax(1) == targets).sum()

    return step


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, prepare: Prepare
             ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over (x, y), in order."""
    model.eval()
    tally = Tally(x.device)
    for idx in batches(len(x), batch_size, None, x.device):
        logits = model(prepare(x[idx]))
        targets = y[idx]
        tally.add(F.cross_entropy(logits, targets), (logits.argmax(1) == targets).sum(), len(idx))
    return tally.mean_loss(), tally.accuracy()


def classify_digits(run: Run, data: ImageSet, model: nn.Module, optimizer: torch.optim.Optimizer,
                    eval_batch: int, /, **settings: object) -> None:
    """The examples' digit classifiers: settings line, epochs, test evaluation, closing lines."""
    args = run.args
    log_settings(run, **settings, **data.describe(), steps_per_epoch=math.ceil(len(data.train_x) / args.batch_size))
    prepare = data.normaliser()
    steps = Steps(classification_step(model, optimizer, data.train_x, data.train_y, prepare), [optimizer],
                  args.batch_size, run.device, run.graphs)
    for epoch in range(1, args.epochs + 1):
        clock = Stopwatch()
        model.train()
        tally = steps.epoch(len(data.train_x), run.generator)
        log_epoch(epoch, args.epochs, tally.mean_loss(), tally.accuracy(), current_lr(optimizer), clock.seconds())
    mark_phase("evaluation")
    loss, accuracy = evaluate(model, data.test_x, data.test_y, eval_batch, prepare)
    log_final([f"Test set: Average loss: {loss:.4f}, Accuracy: {accuracy * 100:.2f}%",
               f"Test Accuracy: {accuracy * 100:.2f}%", f"Test Loss: {loss:.4f}"],
              test_accuracy=accuracy, test_loss=loss)
