"""Person_reID/densenet121|hrnet18|pcb: layumi's Person_reID_baseline_pytorch models, trained from scratch.

Each backbone (torchvision DenseNet-121 or ResNet-50 with weights=None; our HRNet-W18) feeds a
ClassBlock: dense bottleneck, batch norm, dropout, identity classifier. PCB pools ResNet-50's last
map (last stride 1) into six horizontal parts, each with its own 256-wide ClassBlock; its loss is
the sum of the six. SGD with Nesterov momentum 0.9 and weight decay 5e-4; the learning rate drops
tenfold after two thirds of the epochs (40 of 60 in the original). Training augmentation: pad 10
(scaled to the image), random crop, horizontal flip. Evaluation: bottleneck features (PCB: the six
part features) of each image plus its mirror image, L2-normalised, ranked by cosine distance;
rank-1, rank-5 and mAP follow the protocol in `hyperwatt.workloads.evaluation`. The backbone has no
pretrained weights, so it trains at the full learning rate instead of the original's tenth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads._common import (
    Defaults, Stopwatch, Variants, batches, current_lr, log_epoch, log_final, log_settings, mark_phase, parse_args,
    run_main, start,
)
from hyperwatt.workloads._steps import Steps, StepFn
from hyperwatt.workloads.prepare import PCB_SCALE
from hyperwatt.workloads.data import Normaliser, ReidSet, person_images, random_crop_flip
from hyperwatt.workloads.evaluation import retrieval_scores
from hyperwatt.workloads.hrnet import FEATURES as HRNET_FEATURES
from hyperwatt.workloads.hrnet import HRNetW18

DEFAULTS = Defaults(epochs=60, learning_rate=0.05, batch_size=32, seed=1334, weight_decay=5e-4, dropout=0.5)
ARCHS = ("densenet121", "hrnet18", "pcb")
MOMENTUM = 0.9
PARTS = 6
#: PCB's images are 1.5 times larger (384x192 instead of 256x128), as in the original.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EVAL_BATCH = 128


class ClassBlock(nn.Module):
    """Linear bottleneck -> batch norm -> dropout -> identity classifier; the bottleneck is the feature."""

    def __init__(self, d_in: int, classes: int, dropout: float, bottleneck: int) -> None:
        super().__init__()
        linear = nn.Linear(d_in, bottleneck)
        self.add_block = nn.Sequential(linear, nn.BatchNorm1d(bottleneck), nn.Dropout(dropout))
        self.classifier = nn.Linear(bottleneck, classes)
        nn.init.kaiming_normal_(linear.weight, a=0, mode="fan_out")
        nn.init.zeros_(linear.bias)
        nn.init.normal_(self.classifier.weight, std=0.001)
        nn.init.zeros_(self.classifier.bias)

    def feature(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_block[1](self.add_block[0](x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.add_block(x))


class GlobalReid(nn.Module):
    """A backbone pooled to one vector, then one ClassBlock (DenseNet-121, HRNet-W18)."""

    def __init__(self, backbone: nn.Module, width: int, classes: int, dropout: float) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = ClassBlock(width, classes, dropout, bottleneck=512)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.head(self.backbone(x))]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.feature(self.backbone(x))


class _DenseNetFeatures(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import densenet121

        self.features = densenet121(weights=None).features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.features(x)).mean(dim=(2, 3))


class PCB(nn.Module):
    """ResNet-50 (last stride 1) pooled into six horizontal stripes, one ClassBlock per stripe."""

    def __init__(self, classes: int, dropout: float) -> None:
        super().__init__()
        from torchvision.models import resnet50

        net = resnet50(weights=None)
        net.layer4[0].conv2.stride = (1, 1)
        net.layer4[0].downsample[0].stride = (1, 1)
        self.body = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3,
                                  net.layer4)
        self.pool = nn.AdaptiveAvgPool2d((PARTS, 1))
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleList(ClassBlock(2048, classes, dropout, bottleneck=256) for _ in range(PARTS))

    def parts(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.body(x)).flatten(2)  # (B, 2048, 6)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        parts = self.dropout(self.parts(x))
        return [head(parts[:, :, i]) for i, head in enumerate(self.heads)]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The six part features, each normalised, concatenated (scaled to unit length overall)."""
        parts = self.parts(x)
        parts = parts / (parts.norm(dim=1, keepdim=True) * math.sqrt(PARTS) + 1e-12)
        return parts.flatten(1)


def build(arch: str, classes: int, dropout: float) -> nn.Module:
    if arch == "densenet121":
        return GlobalReid(_DenseNetFeatures(), 1024, classes, dropout)
    if arch == "hrnet18":
        return GlobalReid(HRNetW18(), HRNET_FEATURES, classes, dropout)
    return PCB(classes, dropout)


@torch.no_grad()
def _embed_all(model: nn.Module, images: torch.Tensor, prepare: Normaliser) -> torch.Tensor:
    """Unit-length features of `images` plus their mirror images."""
    model.eval()
    out = []
    for idx in batches(len(images), EVAL_BATCH, None, images.device):
        x = prepare(images[idx])
        embed = cast(Callable[[torch.Tensor], torch.Tensor], model.embed)
        f = embed(x) + embed(torch.flip(x, dims=[3]))
        out.append(F.normalize(f, dim=1))
    return torch.cat(out)


def _train_step(model: nn.Module, optimizer: torch.optim.Optimizer, data: ReidSet, pad: int,
                prepare: Normaliser) -> StepFn:
    """Identity classification (summed over PCB's parts) on the cropped, flipped batch."""

    def step(indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = prepare(random_crop_flip(data.train_x[indices], pad))
        targets = data.train_ids[indices]
        outputs = model(x)
        loss = torch.stack([F.cross_entropy(logits, targets) for logits in outputs]).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        score = torch.stack([F.softmax(o, dim=1) for o in outputs]).sum(0)
        return loss, (score.argmax(1) == targets).sum()

    return step


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args("Person_reID", DEFAULTS, argv, Variants("--arch", ARCHS))
    assert args.variant is not None
    run = start(args)
    data = person_images(args.size, args.data_dir, run.device, PCB_SCALE if args.variant == "pcb" else 1.0)
    model = build(args.variant, data.num_train_ids, args.dropout).to(run.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=MOMENTUM, nesterov=True,
                                weight_decay=args.weight_decay)
    step = max(1, round(args.epochs * 2 / 3))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=0.1)
    pad = max(1, round(10 * data.train_x.shape[2] / 256))
    prepare = Normaliser(IMAGENET_MEAN, IMAGENET_STD, run.device)
    log_settings(run, model=args.variant, optimizer=f"SGD(momentum={MOMENTUM},nesterov)", lr_step=step,
                 augmentation=f"pad{pad}+crop+flip", **data.describe(),
                 steps_per_epoch=math.ceil(len(data.train_x) / args.batch_size))

    steps = Steps(_train_step(model, optimizer, data, pad, prepare), [optimizer], args.batch_size, run.device,
                  run.graphs)
    for epoch in range(1, args.epochs + 1):
        clock = Stopwatch()
        lr = current_lr(optimizer)
        model.train()
        tally = steps.epoch(len(data.train_x), run.generator, min_batch=2)  # batch norm needs two images
        scheduler.step()
        log_epoch(epoch, args.epochs, tally.mean_loss(), tally.accuracy(), lr, clock.seconds())

    mark_phase("evaluation")
    query, gallery = _embed_all(model, data.query_x, prepare), _embed_all(model, data.gallery_x, prepare)
    distances = (1.0 - query @ gallery.T).cpu().numpy()
    scores = retrieval_scores(distances, data.query_ids, data.query_cams, data.gallery_ids, data.gallery_cams)
    rank1, rank5, rank10 = scores.rank(1), scores.rank(5), scores.rank(10)
    log_final([f"Rank@1:{rank1:f} Rank@5:{rank5:f} Rank@10:{rank10:f} mAP:{scores.mean_ap:f}",
               f"Rank@1: {rank1:.4f}", f"Rank@5: {rank5:.4f}", f"Rank@10: {rank10:.4f}", f"mAP: {scores.mean_ap:.4f}",
               f"queries scored: {scores.queries_scored} (without a true match: {scores.queries_without_match})"],
              rank1=rank1, rank5=rank5, rank10=rank10, mAP=scores.mean_ap)


if __name__ == "__main__":
    raise SystemExit(run_main(main))
