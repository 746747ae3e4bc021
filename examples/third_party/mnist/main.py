"""An offline stand-in for pytorch/examples' mnist/main.py: the same command-line flags and the same
log lines ("Train Epoch: ...  Loss: ...", "Test set: Average loss: ..., Accuracy: .../... (...%)"),
so it is wrapped exactly as the original would be. The data is a small synthetic 10-class image set
(the class is the lit row of a noisy 14x14 image) instead of the MNIST download."""
import argparse

import torch
from torch import nn
from torch.nn import functional as F


def images(count, seed):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (count,), generator=gen)
    pixels = torch.randn(count, 1, 14, 14, generator=gen) * 1.5
    pixels[torch.arange(count), 0, labels + 2, :] += 1.0
    return torch.utils.data.TensorDataset(pixels, labels)


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 32), nn.ReLU(), nn.Linear(32, 10), nn.LogSoftmax(dim=1),
    )


def parse():
    p = argparse.ArgumentParser(description="PyTorch MNIST Example (offline stand-in)")
    for flag, kind, default in (("--batch-size", int, 64), ("--test-batch-size", int, 1000), ("--epochs", int, 14),
                                ("--lr", float, 1.0), ("--gamma", float, 0.7), ("--seed", int, 1),
                                ("--log-interval", int, 10)):
        p.add_argument(flag, type=kind, default=default)
    for switch in ("--no-cuda", "--dry-run", "--save-model"):
        p.add_argument(switch, action="store_true")
    return p.parse_args()


def main():
    args = parse()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.no_cuda else "cpu")
    train_set, test_set = images(2000, 0), images(500, 1)
    train_batches = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_batches = torch.utils.data.DataLoader(test_set, batch_size=args.test_batch_size)
    model = small_cnn().to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for i, (x, y) in enumerate(train_batches):
            optimizer.zero_grad()
            loss = F.nll_loss(model(x.to(device)), y.to(device))
            loss.backward()
            optimizer.step()
            if i % args.log_interval == 0:
                done = i * len(x)
                print(f"Train Epoch: {epoch} [{done}/{len(train_set)} ({100.0 * i / len(train_batches):.0f}%)]"
                      f"\tLoss: {loss.item():.6f}")
                if args.dry_run:
                    break
        model.eval()
        total_loss, right = 0.0, 0
        with torch.no_grad():
            for x, y in test_batches:
                out = model(x.to(device))
                total_loss += F.nll_loss(out, y.to(device), reduction="sum").item()
                right += (out.argmax(dim=1) == y.to(device)).sum().item()
        n = len(test_set)
        print(f"\nTest set: Average loss: {total_loss / n:.4f}, Accuracy: {right}/{n} ({100.0 * right / n:.0f}%)\n")
        schedule.step()
    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")


if __name__ == "__main__":
    main()
