"""pytorch_resnet_cifar10/resnet20|32|44|56: He et al.'s CIFAR ResNets, as in akamaster's repository.

Three stages of 16, 32 and 64 channels with n basic blocks each (6n+2 weighted layers), option-A
shortcuts (stride-2 subsampling, channels zero-padded), Kaiming-normal initialisation. SGD with
momentum 0.9; the learning rate drops tenfold at 50% and 75% of the epochs (100 and 150 of 200 in
the original). Random crop (pad 4) and horizontal flip; the test set is evaluated every epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads._common import (
    Defaults, Stopwatch, Variants, current_lr, log_epoch, log_final, log_settings, mark_phase, parse_args, run_main,
    start,
)
from hyperwatt.workloads._loops import classification_step, evaluate
from hyperwatt.workloads._steps import Steps
from hyperwatt.workloads.data import cifar_images, random_crop_flip

DEFAULTS = Defaults(epochs=200, learning_rate=0.1, batch_size=128, seed=1334, weight_decay=1e-4, dropout=0.0)
BLOCKS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9}
MOMENTUM = 0.9
CROP_PAD = 4
EVAL_BATCH = 1000


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.subsample = stride != 1 or in_planes != planes
        self.pad_channels = (planes - in_planes) // 2

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Option A: identity, or every other pixel with zero channels added on both sides."""
        if not self.subsample:
            return x
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad_channels, self.pad_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks_per_stage: int, num_classes: int = 10, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stages, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(blocks_per_stage):
                blocks.append(BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = out.mean(dim=(2, 3))
        return self.linear(self.dropout(out))


def milestones(epochs: int) -> list[int]:
    """Epochs after which the learning rate drops tenfold: half and three quarters of the way."""
    return sorted({max(1, round(epochs * 0.5)), max(1, round(epochs * 0.75))})


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args("pytorch_resnet_cifar10", DEFAULTS, argv, Variants("--arch", tuple(BLOCKS)))
    assert args.variant is not None
    run = start(args)
    data = cifar_images(args.size, args.data_dir, run.device)
    model = CifarResNet(BLOCKS[args.variant], data.num_classes, args.dropout).to(run.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=MOMENTUM,
                                weight_decay=args.weight_decay)
    drops = milestones(args.epochs)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=drops, gamma=0.1)
    log_settings(run, model=args.variant, layers=6 * BLOCKS[args.variant] + 2,
                 optimizer=f"SGD(momentum={MOMENTUM})", lr_milestones="/".join(map(str, drops)),
                 augmentation=f"crop{CROP_PAD}+flip", **data.describe(),
                 steps_per_epoch=math.ceil(len(data.train_x) / args.batch_size))

    test_prepare = data.normaliser()

    def train_prepare(x: torch.Tensor) -> torch.Tensor:
        return test_prepare(random_crop_flip(x, CROP_PAD))

    steps = Steps(classification_step(model, optimizer, data.train_x, data.train_y, train_prepare), [optimizer],
                  args.batch_size, run.device, run.graphs)

    best = 0.0
    for epoch in range(1, args.epochs + 1):
        clock = Stopwatch()
        lr = current_lr(optimizer)
        model.train()
        tally = steps.epoch(len(data.train_x), run.generator)
        scheduler.step()
        mark_phase("evaluation")
        val_loss, val_accuracy = evaluate(model, data.test_x, data.test_y, EVAL_BATCH, test_prepare)
        best = max(best, val_accuracy)
        log_epoch(epoch, args.epochs, tally.mean_loss(), tally.accuracy(), lr, clock.seconds(),
                  val_loss=val_loss, val_accuracy=val_accuracy)
    log_final([f" * Prec@1 {val_accuracy * 100:.3f}", f"Test Accuracy: {val_accuracy * 100:.2f}%",
               f"Best Val Accuracy: {best * 100:.2f}%"],
              test_accuracy=val_accuracy, test_loss=val_loss, best_val_accuracy=best)


if __name__ == "__main__":
    raise SystemExit(run_main(main))
