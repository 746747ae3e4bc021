"""examples/mnist_ff: Hinton's forward-forward network, as in the PyTorch examples (784-500-500).

No backpropagation across layers: each layer has its own optimiser and learns, from its detached
input, to give high goodness (mean squared activation) to an image overlaid with its true label
and low goodness to the image overlaid with a wrong label. A digit is predicted as the label whose
overlay earns the highest goodness summed over the layers.

Two departures from the example, both so that minibatch training learns within the seed's
10-epoch budget (the example trains each layer for 1000 full-batch steps): the layer loss is the
symmetric goodness gap softplus(alpha * (g_neg - g_pos)) (SymBa, Lee & Song 2023) instead of a
fixed threshold, and each layer's input is scaled to unit root-mean-square rather than unit
length, so goodness starts near 1 instead of near 0 (where weight decay made it collapse).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads._common import (
    Defaults, Stopwatch, batches, log_epoch, log_final, log_settings, mark_phase, parse_args, run_main, start,
)
from hyperwatt.workloads._steps import Steps
from hyperwatt.workloads.data import digit_images

DEFAULTS = Defaults(epochs=10, learning_rate=0.01, batch_size=32, seed=1, weight_decay=0.0, dropout=0.0)
LAYERS = (784, 500, 500)
ALPHA = 4.0
NUM_CLASSES = 10
EVAL_BATCH = 1000
#: Training images whose accuracy is logged each epoch (predicting costs ten passes per image).
TRAIN_ACCURACY_SAMPLES = 2000


def overlay(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Flattened images whose first ten pixels encode `labels` one-hot at the image's maximum."""
    x = x.flatten(1).clone()
    x[:, :NUM_CLASSES] = 0.0
    x[torch.arange(len(x), device=x.device), labels] = x.max()
    return x


class Layer(nn.Module):
    """A dense ReLU layer on RMS-normalised input, trained by its own goodness loss."""

    def __init__(self, d_in: int, d_out: int, dropout: float) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / (x.norm(p=2, dim=1, keepdim=True) / math.sqrt(x.shape[1]) + 1e-4)
        return F.relu(self.linear(self.dropout(x)))

    @staticmethod
    def goodness(h: torch.Tensor) -> torch.Tensor:
        return h.pow(2).mean(dim=1)

    def loss(self, h_pos: torch.Tensor, h_neg: torch.Tensor) -> torch.Tensor:
        """Softplus of how far the negative goodness comes up to the positive one."""
        return F.softplus(ALPHA * (self.goodness(h_neg) - self.goodness(h_pos))).mean()


class FFNet(nn.Module):
    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Layer(a, b, dropout) for a, b in zip(LAYERS, LAYERS[1:]))

    @property
    def ff_layers(self) -> list[Layer]:
        return [cast(Layer, layer) for layer in self.layers]

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The label whose overlay gathers the most goodness across layers."""
        scores = []
        for label in range(NUM_CLASSES):
            h = overlay(x, torch.full((len(x),), label, device=x.device))
            total = torch.zeros(len(x), device=x.device)
            for layer in self.ff_layers:
                h = layer(h)
                total += layer.goodness(h)
            scores.append(total)
        return torch.stack(scores, dim=1).argmax(dim=1)


def _wrong_labels(labels: torch.Tensor) -> torch.Tensor:
    shift = torch.randint(1, NUM_CLASSES, labels.shape, device=labels.device)
    return (labels + shift) % NUM_CLASSES


def _accuracy(model: FFNet, x: torch.Tensor, y: torch.Tensor, prepare: Callable[[torch.Tensor], torch.Tensor]
              ) -> float:
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for idx in batches(len(x), EVAL_BATCH, None, x.device):
        correct += (model.predict(prepare(x[idx])) == y[idx]).sum()
    return float(correct.item()) / max(len(x), 1)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args("examples/mnist_ff", DEFAULTS, argv)
    run = start(args)
    data = digit_images(args.size, args.data_dir, run.device)
    model = FFNet(args.dropout).to(run.device)
    optimizers = [torch.optim.Adam(layer.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay,
                                   capturable=run.graphs) for layer in model.layers]
    log_settings(run, model="ff" + "-".join(map(str, LAYERS)), optimizer="Adam(per layer)", loss=f"symba(alpha={ALPHA:g})",
                 **data.describe(), steps_per_epoch=math.ceil(len(data.train_x) / args.batch_size))

    prepare = data.normaliser()
    no_answers = torch.zeros((), dtype=torch.int64, device=run.device)  # goodness training has no accuracy

    def step(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = prepare(data.train_x[idx]), data.train_y[idx]
        h_pos, h_neg = overlay(x, y), overlay(x, _wrong_labels(y))
        losses = []
        for layer, optimizer in zip(model.ff_layers, optimizers):
            out_pos, out_neg = layer(h_pos), layer(h_neg)
            loss = layer.loss(out_pos, out_neg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            h_pos, h_neg = out_pos.detach(), out_neg.detach()
        return torch.stack(losses).mean(), no_answers

    steps = Steps(step, optimizers, args.batch_size, run.device, run.graphs)
    for epoch in range(1, args.epochs + 1):
        clock = Stopwatch()
        model.train()
        tally = steps.epoch(len(data.train_x), run.generator)
        mark_phase("evaluation")  # the training-accuracy probe
        probe = slice(0, TRAIN_ACCURACY_SAMPLES)
        train_accuracy = _accuracy(model, data.train_x[probe], data.train_y[probe], prepare)
        log_epoch(epoch, args.epochs, tally.mean_loss(), train_accuracy, args.learning_rate, clock.seconds())
    mark_phase("evaluation")
    accuracy = _accuracy(model, data.test_x, data.test_y, prepare)
    log_final([f"Test Accuracy: {accuracy * 100:.2f}%", f"Test Error: {1.0 - accuracy:.4f}"],
              test_accuracy=accuracy, test_error=1.0 - accuracy)


if __name__ == "__main__":
    raise SystemExit(run_main(main))
