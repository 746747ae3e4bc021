"""examples/mnist_rnn: the PyTorch examples' LSTM that reads a digit image row by row, trained with Adam."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads._common import (
    Defaults, Stopwatch, current_lr, log_epoch, log_final, log_settings, parse_args, run_main, start,
)
from hyperwatt.workloads._loops import evaluate, train_epoch
from hyperwatt.workloads.data import digit_images

DEFAULTS = Defaults(epochs=10, learning_rate=0.01, batch_size=32, seed=1, weight_decay=0.0, dropout=0.5)
HIDDEN = 64
EVAL_BATCH = 1000


class Net(nn.Module):
    """LSTM(28 -> 64) over the 28 rows; last output -> batch norm -> dense 32 -> dense 10, with dropout."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_size=28, hidden_size=HIDDEN, batch_first=True)
        self.batchnorm = nn.BatchNorm1d(HIDDEN)
        self.dropout1 = nn.Dropout(dropout / 2)
        self.dropout2 = nn.Dropout(dropout)
        self.fc1 = nn.Linear(HIDDEN, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x.flatten(1, 2))  # (B, 1, 28, 28) -> rows (B, 28, 28)
        x = self.dropout1(self.batchnorm(output[:, -1, :]))
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args("examples/mnist_rnn", DEFAULTS, argv)
    run = start(args)
    data = digit_images(args.size, args.data_dir, run.device)
    model = Net(args.dropout).to(run.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    log_settings(run, model=f"lstm{HIDDEN}-32", optimizer="Adam", **data.describe(),
                 steps_per_epoch=math.ceil(len(data.train_x) / args.batch_size))

    prepare = data.normaliser()
    for epoch in range(1, args.epochs + 1):
        clock = Stopwatch()
        tally = train_epoch(model, optimizer, data.train_x, data.train_y, args.batch_size, run.generator, prepare)
        log_epoch(epoch, args.epochs, tally.mean_loss(), tally.accuracy(), current_lr(optimizer), clock.seconds())
    loss, accuracy = evaluate(model, data.test_x, data.test_y, EVAL_BATCH, prepare)
    log_final([f"Test set: Average loss: {loss:.4f}, Accuracy: {accuracy * 100:.2f}%",
               f"Test Accuracy: {accuracy * 100:.2f}%", f"Test Loss: {loss:.4f}"],
              test_accuracy=accuracy, test_loss=loss)


if __name__ == "__main__":
    raise SystemExit(run_main(main))
