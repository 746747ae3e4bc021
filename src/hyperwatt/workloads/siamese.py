"""examples/siamese: a siamese CNN that tells whether two digit images show the same digit.

Both images pass through one shared CNN; the absolute difference of their embeddings feeds a
logistic output (binary cross-entropy). Training pairs are drawn afresh each epoch, half of them
same-digit; the test pairs are fixed. Accuracy is the share of test pairs judged right at 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads._common import (
    Defaults, Stopwatch, Tally, batches, current_lr, log_epoch, log_final, log_settings, mark_phase, parse_args,
    run_main,
    start,
)
from hyperwatt.workloads._steps import Steps
from hyperwatt.workloads.data import digit_images

DEFAULTS = Defaults(epochs=10, learning_rate=0.01, batch_size=32, seed=1, weight_decay=0.0, dropout=0.0)
MOMENTUM = 0.9
EMBEDDING = 128
EVAL_BATCH = 1000
#: Fixed seed of the test pairs.
TEST_PAIR_SEED = 7


class SiameseNet(nn.Module):
    """Shared conv 32 -> conv 64 -> pool -> (dropout) -> dense 128 embedding; |e1 - e2| -> dense 1 logit.

    Dropout acts on the pooled features only: on the embedding it would blur the very differences
    the head compares.
    """

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(dropout), nn.Flatten(), nn.Linear(9216, EMBEDDING), nn.ReLU(),
        )
        self.head = nn.Linear(EMBEDDING, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        both = self.embed(torch.cat([a, b]))
        ea, eb = both[: len(a)], both[len(a):]
        return self.head((ea - eb).abs()).squeeze(1)


class PairSampler:
    """Partners for images: of the same class or of another one, uniformly among that class's images."""

    def __init__(self, labels: torch.Tensor, num_classes: int) -> None:
        self.order = torch.argsort(labels, stable=True)
        self.counts = torch.bincount(labels, minlength=num_classes)
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        self.labels = labels
        self.num_classes = num_classes

    def partners(self, idx: torch.Tensor, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Partner indices and targets (1 same class, 0 different), half of each on average; random
        draws from `generator`, by default torch's (which CUDA graphs can replay)."""
        device = idx.device
        same = torch.rand(len(idx), generator=generator, device=device) < 0.5
        shift = torch.randint(1, self.num_classes, (len(idx),), generator=generator, device=device)
        own = self.labels[idx]
        cls = torch.where(same, own, (own + shift) % self.num_classes)
        pick = torch.rand(len(idx), generator=generator, device=device)
        offset = (pick * self.counts[cls]).long().clamp_max(self.counts[cls] - 1)
        return self.order[self.starts[cls] + offset], same.float()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args("examples/siamese", DEFAULTS, argv)
    run = start(args)
    data = digit_images(args.size, args.data_dir, run.device)
    model = SiameseNet(args.dropout).to(run.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=MOMENTUM,
                                weight_decay=args.weight_decay)
    train_pairs = PairSampler(data.train_y, data.num_classes)
    test_gen = torch.Generator(device=run.device)
    test_gen.manual_seed(TEST_PAIR_SEED)
    test_idx = torch.arange(len(data.test_x), device=run.device)
    test_partner, test_target = PairSampler(data.test_y, data.num_classes).partners(test_idx, test_gen)
    log_settings(run, model=f"siamese-cnn32-64-{EMBEDDING}", optimizer=f"SGD(momentum={MOMENTUM})",
                 **data.describe(), test_pairs=len(test_idx), steps_per_epoch=math.ceil(len(data.train_x) / args.batch_size))

    prepare = data.normaliser()

    def step(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        partner, target = train_pairs.partners(idx)
        logits = model(prepare(data.train_x[idx]), prepare(data.train_x[partner]))
        loss = F.binary_cross_entropy_with_logits(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss, ((logits > 0).float() == target).sum()

    steps = Steps(step, [optimizer], args.batch_size, run.device, run.graphs)
    for epoch in range(1, args.epochs + 1):
        clock = Stopwatch()
        model.train()
        tally = steps.epoch(len(data.train_x), run.generator)
        log_epoch(epoch, args.epochs, tally.mean_loss(), tally.accuracy(), current_lr(optimizer), clock.seconds())

    mark_phase("evaluation")
    model.eval()
    tally = Tally(run.device)
    with torch.no_grad():
        for idx in batches(len(test_idx), EVAL_BATCH, None, run.device):
            logits = model(prepare(data.test_x[idx]), prepare(data.test_x[test_partner[idx]]))
            target = test_target[idx]
            tally.add(F.binary_cross_entropy_with_logits(logits, target), ((logits > 0).float() == target).sum(),
                      len(idx))
    loss, accuracy = tally.mean_loss(), tally.accuracy()
    log_final([f"Test set: Average loss: {loss:.4f}, Accuracy: {accuracy * 100:.2f}%",
               f"Test Accuracy: {accuracy * 100:.2f}%", f"Test Loss: {loss:.4f}"],
              test_accuracy=accuracy, test_loss=loss)


if __name__ == "__main__":
    raise SystemExit(run_main(main))
