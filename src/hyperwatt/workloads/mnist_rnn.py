"""examples/mnist_rnn: the PyTorch examples' LSTM that reads a digit image row by row, trained with Adam."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads._common import Defaults, parse_args, run_main, start
from hyperwatt.workloads._loops import classify_digits
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
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay,
                                 capturable=run.graphs)
    classify_digits(run, data, model, optimizer, EVAL_BATCH,
                    model=f"lstm{HIDDEN}-32", optimizer="Adam")


if __name__ == "__main__":
    raise SystemExit(run_main(main))
