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
    Run, Stopwatch, Tally, batches, current_lr, log_epoch, log_final, log_settings,
)

Prepare = Callable[[torch.Tensor], torch.Tensor]


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    prepare: Prepare,
) -> Tally:
    """One shuffled pass with cross-entropy; returns the epoch's loss and accuracy tally."""
    model.train()
    tally = Tally(x.device)
    for idx in batches(len(x), batch_size, generator, x.device):
        inputs, targets = prepare(x[idx]), y[idx]
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        tally.add(loss, (logits.argmax(1) == targets).sum(), len(idx))
    return tally


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
    for epoch in range(1, args.epochs + 1):
        clock = Stopwatch()
        tally = train_epoch(model, optimizer, data.train_x, data.train_y, args.batch_size, run.generator, prepare)
        log_epoch(epoch, args.epochs, tally.mean_loss(), tally.accuracy(), current_lr(optimizer), clock.seconds())
    loss, accuracy = evaluate(model, data.test_x, data.test_y, eval_batch, prepare)
    log_final([f"Test set: Average loss: {loss:.4f}, Accuracy: {accuracy * 100:.2f}%",
               f"Test Accuracy: {accuracy * 100:.2f}%", f"Test Loss: {loss:.4f}"],
              test_accuracy=accuracy, test_loss=loss)
