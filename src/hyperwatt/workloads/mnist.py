"""examples/mnist: the PyTorch examples' MNIST CNN (two convolutions, two dense layers), SGD with momentum."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads._common import Defaults, parse_args, run_main, start
from hyperwatt.workloads._loops import classify_digits
from hyperwatt.workloads.data import digit_images

DEFAULTS = Defaults(epochs=10, learning_rate=0.01, batch_size=32, seed=1, weight_decay=0.0, dropout=0.5)
MOMENTUM = 0.5
EVAL_BATCH = 1000


class Net(nn.Module):
    """conv 32 -> conv 64 -> max-pool -> dense 128 -> dense 10; dropout p/2 after pooling, p after dense."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(dropout / 2)
        self.dropout2 = nn.Dropout(dropout)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args("examples/mnist", DEFAULTS, argv)
    run = start(args)
    data = digit_images(args.size, args.data_dir, run.device)
    model = Net(args.dropout).to(run.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=MOMENTUM,
                                weight_decay=args.weight_decay)
    classify_digits(run, data, model, optimizer, EVAL_BATCH,
                    model="cnn32-64-128", optimizer=f"SGD(momentum={MOMENTUM})")


if __name__ == "__main__":
    raise SystemExit(run_main(main))
