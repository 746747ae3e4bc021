"""A stand-in for HuggingFace's examples/pytorch/text-classification/run_glue.py: the same flags
(--learning_rate, --per_device_train_batch_size, --num_train_epochs, --do_train/--do_eval,
--output_dir), tqdm-style progress bars on stderr, and its results written where HF writes them:
--output_dir/all_results.json. A small MLP on synthetic features instead of BERT on SST-2."""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn


def bar(step, total):
    sys.stderr.write(f"\r{100 * step // total:3d}%|{'█' * (10 * step // total):10s}| {step}/{total}")
    sys.stderr.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model_name_or_path", required=True)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--learning_rate", type=float, default=5e-5)
    p.add_argument("--per_device_train_batch_size", type=int, default=8)
    p.add_argument("--num_train_epochs", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--do_train", action="store_true")
    p.add_argument("--do_eval", action="store_true")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    w = torch.randn(32)
    x, xe = torch.randn(1024, 32), torch.randn(256, 32)
    y, ye = (x @ w > 0).long(), (xe @ w > 0).long()
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
    bs = args.per_device_train_batch_size
    total = math.ceil(len(x) / bs * args.num_train_epochs)
    results = {}
    if args.do_train:
        for step in range(1, total + 1):
            i = (step - 1) * bs % len(x)
            loss = nn.functional.cross_entropy(model(x[i:i + bs]), y[i:i + bs])
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar(step, total)
        sys.stderr.write("\n")
        results["train_loss"] = loss.item()
    if args.do_eval:
        with torch.no_grad():
            out = model(xe)
        results["eval_loss"] = nn.functional.cross_entropy(out, ye).item()
        results["eval_accuracy"] = (out.argmax(1) == ye).float().mean().item()
    results["epoch"] = args.num_train_epochs
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "all_results.json"), "w") as f:
        json.dump(results, f, indent=4)


if __name__ == "__main__":
    main()
