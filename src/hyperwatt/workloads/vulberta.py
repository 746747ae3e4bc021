"""VulBERTa/mlp|cnn: a RoBERTa-style encoder over code tokens with an MLP head or a TextCNN head.

The encoder (token and learned position embeddings, post-norm transformer layers with GELU) is
trained from scratch with AdamW and a linear decay of the learning rate to zero, as Hugging Face's
Trainer does. `mlp` classifies from the `<s>` position (dense, tanh, dense: RoBERTa's
classification head); `cnn` runs 3-, 4- and 5-wide convolutions over the encoded sequence and
max-pools them over the real tokens (Kim's TextCNN, as VulBERTa-CNN). Reported as the Trainer
reports: accuracy, F1 of the vulnerable class, eval_loss, final_training_loss (mean loss of the
last epoch) and train_samples_per_second (samples seen in training per second of training).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hyperwatt.workloads._common import (
    Defaults, Stopwatch, Tally, Variants, batches, current_lr, log_epoch, log_final, log_settings, mark_phase,
    parse_args,
    run_main, start,
)
from hyperwatt.workloads._errors import UsageError
from hyperwatt.workloads._steps import Steps
from hyperwatt.workloads.data.code_tokens import PAD, TokenSet, code_tokens
from hyperwatt.workloads.evaluation import binary_f1

DEFAULTS = Defaults(epochs=10, learning_rate=3e-5, batch_size=16, seed=42, weight_decay=0.0, dropout=0.1)
HEADS = ("mlp", "cnn")
CNN_WIDTHS = (3, 4, 5)
CNN_FILTERS = 128
EVAL_BATCH = 64
INIT_STD = 0.02


@dataclass(frozen=True)
class EncoderSize:
    d_model: int
    layers: int
    heads: int
    d_ff: int


ENCODERS = {"tiny": EncoderSize(32, 1, 2, 64), "small": EncoderSize(512, 6, 8, 2048),
            "full": EncoderSize(768, 12, 12, 3072)}


def _roberta_init(module: nn.Module) -> None:
    """RoBERTa's initialisation: dense and embedding weights N(0, 0.02), zero biases and padding row.

    It is what makes a learning rate of 3e-5 move the weights at a useful pace.
    """
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=INIT_STD)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.Embedding) and module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].zero_()


class Encoder(nn.Module):
    def __init__(self, vocab: int, max_len: int, size: EncoderSize, dropout: float) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, size.d_model, padding_idx=PAD)
        self.positions = nn.Embedding(max_len, size.d_model)
        self.norm = nn.LayerNorm(size.d_model)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(size.d_model, size.heads, size.d_ff, dropout, activation="gelu",
                                           batch_first=True)
        self.layers = nn.TransformerEncoder(layer, size.layers, enable_nested_tensor=False)

    def forward(self, tokens: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.dropout(self.norm(self.tokens(tokens) + self.positions(positions)))
        return self.layers(x, src_key_padding_mask=padding)


class MLPHead(nn.Module):
    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, 2)

    def forward(self, h: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.dense(self.dropout(h[:, 0])))
        return self.out(self.dropout(x))


class CNNHead(nn.Module):
    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(d_model, CNN_FILTERS, w, padding=w // 2) for w in CNN_WIDTHS)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(CNN_FILTERS * len(CNN_WIDTHS), 2)

    def forward(self, h: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        x = h.transpose(1, 2)  # (B, d, L)
        length = h.shape[1]
        pooled = []
        for conv in self.convs:
            y = F.relu(conv(x))[:, :, :length].masked_fill(padding[:, None, :], float("-inf"))
            pooled.append(y.amax(dim=2))
        return self.out(self.dropout(torch.cat(pooled, dim=1)))


class Classifier(nn.Module):
    def __init__(self, vocab: int, max_len: int, size: EncoderSize, head: str, dropout: float) -> None:
        super().__init__()
        self.encoder = Encoder(vocab, max_len, size, dropout)
        self.head = MLPHead(size.d_model, dropout) if head == "mlp" else CNNHead(size.d_model, dropout)
        self.apply(_roberta_init)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        padding = tokens == PAD
        return self.head(self.encoder(tokens, padding), padding)


class LinearDecay:
    """The learning rate falls linearly from `initial` to zero over `total_steps` (the Trainer's
    default schedule); a tensor learning rate is updated in place, so a CUDA graph sees it."""

    def __init__(self, optimizer: torch.optim.Optimizer, initial: float, total_steps: int) -> None:
        self._optimizer, self._initial, self._total, self._done = optimizer, initial, total_steps, 0

    def step(self) -> None:
        self._done += 1
        value = self._initial * max(0.0, 1.0 - self._done / self._total)
        for group in self._optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(value)
            else:
                group["lr"] = value


@torch.no_grad()
def _evaluate(model: Classifier, data: TokenSet, device: torch.device) -> tuple[float, float, float]:
    """eval_loss, accuracy and F1 on the test sequences."""
    model.eval()
    tally = Tally(device)
    predictions = []
    x, y = data.test_tokens.to(device), data.test_labels.to(device)
    for idx in batches(len(x), EVAL_BATCH, None, device):
        logits = model(x[idx])
        predicted = logits.argmax(1)
        tally.add(F.cross_entropy(logits, y[idx]), (predicted == y[idx]).sum(), len(idx))
        predictions.append(predicted)
    f1 = binary_f1(data.test_labels.numpy(), torch.cat(predictions).cpu().numpy())
    return tally.mean_loss(), tally.accuracy(), f1


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args("VulBERTa", DEFAULTS, argv, Variants("--head", HEADS))
    assert args.variant is not None
    if args.data_dir is not None:
        raise UsageError("--data-dir: the VulBERTa workloads train on synthetic token sequences only")
    run = start(args)
    data = code_tokens(args.size)
    size = ENCODERS[args.size]
    model = Classifier(data.vocab_size, data.train_tokens.shape[1], size, args.variant, args.dropout).to(run.device)
    # on a GPU the learning rate is a tensor, which the replayed CUDA graph reads at every step
    lr = torch.tensor(args.learning_rate, device=run.device) if run.graphs else args.learning_rate
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=args.weight_decay, capturable=run.graphs)
    steps_per_epoch = math.ceil(len(data.train_tokens) / args.batch_size)
    schedule = LinearDecay(optimizer, args.learning_rate, steps_per_epoch * args.epochs)
    log_settings(run, model=f"encoder-d{size.d_model}-l{size.layers}-h{size.heads}+{args.variant}",
                 optimizer="AdamW", lr_schedule="linear-to-zero", **data.describe(), steps_per_epoch=steps_per_epoch)

    x, y = data.train_tokens.to(run.device), data.train_labels.to(run.device)

    def step(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x[idx])
        loss = F.cross_entropy(logits, y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss, (logits.argmax(1) == y[idx]).sum()

    steps = Steps(step, [optimizer], args.batch_size, run.device, run.graphs)
    train_clock = Stopwatch()
    for epoch in range(1, args.epochs + 1):
        clock = Stopwatch()
        epoch_lr = current_lr(optimizer)
        model.train()
        tally = steps.epoch(len(x), run.generator, after_step=schedule.step)
        log_epoch(epoch, args.epochs, tally.mean_loss(), tally.accuracy(), epoch_lr, clock.seconds())
    train_s = train_clock.seconds()
    samples_per_s = len(x) * args.epochs / train_s
    final_loss = tally.mean_loss()
    mark_phase("evaluation")
    eval_loss, accuracy, f1 = _evaluate(model, data, run.device)
    log_final([f"accuracy: {accuracy:.4f}", f"f1: {f1:.4f}", f"eval_loss: {eval_loss:.4f}",
               f"Final training loss: {final_loss:.4f}", f"train_samples_per_second: {samples_per_s:.1f}"],
              accuracy=accuracy, f1=f1, eval_loss=eval_loss, final_training_loss=final_loss,
              train_samples_per_second=samples_per_s)


if __name__ == "__main__":
    raise SystemExit(run_main(main))
