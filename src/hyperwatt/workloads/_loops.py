"""The supervised classification epoch and evaluation that several workloads share.

Inputs live on the training device as whole tensors; batches are index slices, so no loader
process or host-to-device copy stalls the GPU, and the loop reads nothing back until it ends.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads._common import Tally, batches

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
