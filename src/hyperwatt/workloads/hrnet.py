"""HRNet-W18 (Wang et al., "Deep High-Resolution Representation Learning"), image-classification form.

A stem of two stride-2 convolutions, a bottleneck stage, then stages of 2, 3 and 4 parallel
branches at 1/4, 1/8, 1/16 and 1/32 resolution (18, 36, 72, 144 channels), each module running
four basic blocks per branch and fusing every branch into every other (upsampled 1x1 convolutions
from lower resolutions, strided 3x3 convolutions from higher ones). The classification head
widens each branch with a bottleneck, merges them from high to low resolution and ends in 2048
channels, globally pooled. Module counts (1, 1, 4, 3) and widths follow the official W18 config,
so the network matches timm's `hrnet_w18` (about 19.3 M parameters without the 1000-way classifier).
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

WIDTHS = (18, 36, 72, 144)
MODULES_PER_STAGE = (1, 4, 3)  # stages 2, 3, 4
BLOCKS_PER_BRANCH = 4
HEAD_WIDTHS = (32, 64, 128, 256)
FEATURES = 2048


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, planes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn(c_in, planes, 3, 1, True), _conv_bn(planes, planes, 3, 1, False))
        self.shortcut = nn.Identity() if c_in == planes else _conv_bn(c_in, planes, 1, 1, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, planes: int) -> None:
        super().__init__()
        out = planes * self.expansion
        self.body = nn.Sequential(
            _conv_bn(c_in, planes, 1, 1, True), _conv_bn(planes, planes, 3, 1, True), _conv_bn(planes, out, 1, 1, False),
        )
        self.shortcut = nn.Identity() if c_in == out else _conv_bn(c_in, out, 1, 1, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class FuseLayer(nn.Module):
    """Output i = ReLU(sum over branches j of branch j brought to branch i's resolution and width)."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.paths = nn.ModuleList()
        for i, c_i in enumerate(widths):
            row = nn.ModuleList()
            for j, c_j in enumerate(widths):
                if j > i:
                    row.append(_conv_bn(c_j, c_i, 1, 1, False))  # then upsampled
                elif j == i:
                    row.append(nn.Identity())
                else:  # i - j stride-2 convolutions
                    steps = [_conv_bn(c_j, c_j, 3, 2, True) for _ in range(i - j - 1)]
                    steps.append(_conv_bn(c_j, c_i, 3, 2, False))
                    row.append(nn.Sequential(*steps))
            self.paths.append(row)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = []
        for i, row in enumerate(self.paths):
            total = xs[i]
            for j, path in enumerate(cast(nn.ModuleList, row)):
                if j == i:
                    continue
                y = path(xs[j])
                if j > i:
                    y = F.interpolate(y, size=xs[i].shape[-2:], mode="nearest")
                total = total + y
            outs.append(F.relu(total))
        return outs


class HighResolutionModule(nn.Module):
    """Basic blocks on each branch, then a full exchange between branches."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c, c) for _ in range(BLOCKS_PER_BRANCH)]) for c in widths
        )
        self.fuse = FuseLayer(widths)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.fuse([branch(x) for branch, x in zip(self.branches, xs)])


class Transition(nn.Module):
    """Adapts existing branches' widths and opens one new branch at half the lowest resolution."""

    def __init__(self, widths_in: tuple[int, ...], widths_out: tuple[int, ...]) -> None:
        super().__init__()
        self.paths = nn.ModuleList()
        for i, c_out in enumerate(widths_out):
            if i < len(widths_in):
                c_in = widths_in[i]
                self.paths.append(nn.Identity() if c_in == c_out else _conv_bn(c_in, c_out, 3, 1, True))
            else:
                self.paths.append(_conv_bn(widths_in[-1], c_out, 3, 2, True))

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [path(xs[min(i, len(xs) - 1)]) for i, path in enumerate(self.paths)]


class HRNetW18(nn.Module):
    """Images (B, 3, H, W) to pooled features (B, 2048)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv_bn(3, 64, 3, 2, True), _conv_bn(64, 64, 3, 2, True))
        self.layer1 = nn.Sequential(Bottleneck(64, 64), *[Bottleneck(256, 64) for _ in range(3)])
        stages: list[nn.Module] = []
        transitions: list[nn.Module] = []
        widths_in: tuple[int, ...] = (256,)
        for branches, modules in zip((2, 3, 4), MODULES_PER_STAGE):
            widths = WIDTHS[:branches]
            transitions.append(Transition(widths_in, widths))
            stages.append(nn.Sequential(*[HighResolutionModule(widths) for _ in range(modules)]))
            widths_in = widths
        self.transitions = nn.ModuleList(transitions)
        self.stages = nn.ModuleList(stages)
        self.incre = nn.ModuleList(Bottleneck(c, h) for c, h in zip(WIDTHS, HEAD_WIDTHS))
        self.downsamp = nn.ModuleList(
            _conv_bn(h * 4, h_next * 4, 3, 2, True) for h, h_next in zip(HEAD_WIDTHS, HEAD_WIDTHS[1:])
        )
        self.final = _conv_bn(HEAD_WIDTHS[-1] * 4, FEATURES, 1, 1, True)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs = [self.layer1(self.stem(x))]
        for transition, stage in zip(self.transitions, self.stages):
            xs = stage(transition(xs))
        y = self.incre[0](xs[0])
        for i, down in enumerate(self.downsamp):
            y = self.incre[i + 1](xs[i + 1]) + down(y)
        return self.final(y).mean(dim=(2, 3))
