"""Plumbing shared by the built-in workloads: command line, device, threads, seeding, logs, metrics.

Every workload module calls `parse_args`, then `start` (device, threads, seeds, the settings line)
and reports through `log_epoch` / `log_final`. Phase markers (metrics-file phase events) frame the
work: `Steps.epoch` marks each training epoch once the CUDA warm-up is behind it, `mark_phase`
evaluation, and `log_final` teardown; everything before the first training step is start-up. `run_main` turns failures into one-line messages
and exit codes: 2 for bad usage or data, 1 for a failed run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import torch

from hyperwatt.metricsfile import emit, phase
from hyperwatt.workloads._errors import UsageError, WorkloadError

SIZES = ("tiny", "small", "full")
#: CUDA's workspace setting that makes cuBLAS deterministic (read when cuBLAS starts).
_CUBLAS_DETERMINISTIC = ":4096:8"
#: Threads a GPU run keeps for its own CPU-side work, so co-located runs do not starve each other.
_GPU_RUN_THREADS = 4


@dataclass(frozen=True)
class Defaults:
    """A workload's hyperparameter defaults (the registry declares the same values)."""

    epochs: int
    learning_rate: float
    batch_size: int
    seed: int
    weight_decay: float = 0.0
    dropout: float = 0.0


@dataclass(frozen=True)
class Args:
    """The parsed command line of one workload run."""

    workload: str
    epochs: int
    learning_rate: float
    batch_size: int
    seed: int
    weight_decay: float
    dropout: float
    size: str
    device: str
    data_dir: Path | None
    deterministic: bool
    cuda_graphs: bool
    cudnn_benchmark: bool
    variant: str | None


@dataclass(frozen=True)
class Variants:
    """A module that serves several workloads picks one with a flag (`--arch`, `--head`)."""

    flag: str
    choices: tuple[str, ...]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        raise UsageError(message)


def parse_args(
    workload: str,
    defaults: Defaults,
    argv: Sequence[str] | None = None,
    variants: Variants | None = None,
) -> Args:
    """Parse the common flags; `workload` is `repo` when `variants` names the model, else `repo/model`."""
    parser = _Parser(prog=f"python -m {_module_name()}", description=f"hyperwatt built-in workload {workload}")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--dropout", type=float, default=defaults.dropout)
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--deterministic", action="store_true",
                        help="use only deterministic kernels (slower on GPU)")
    parser.add_argument("--cuda-graphs", choices=("on", "off"), default="on",
                        help="on a GPU, replay each training step from a CUDA graph (default on)")
    parser.add_argument("--cudnn-benchmark", choices=("on", "off"), default="off",
                        help="let cuDNN time every algorithm for each new shape (costs DenseNet-121 about 25 s)")
    if variants is not None:
        parser.add_argument(variants.flag, choices=variants.choices, required=True)
    ns = parser.parse_args(argv)
    variant = getattr(ns, variants.flag.lstrip("-").replace("-", "_")) if variants else None
    args = Args(
        workload=f"{workload}/{variant}" if variant else workload,
        epochs=ns.epochs, learning_rate=ns.learning_rate, batch_size=ns.batch_size, seed=ns.seed,
        weight_decay=ns.weight_decay, dropout=ns.dropout, size=ns.size, device=ns.device,
        data_dir=ns.data_dir, deterministic=ns.deterministic, cuda_graphs=ns.cuda_graphs == "on",
        cudnn_benchmark=ns.cudnn_benchmark == "on",        variant=variant,
    )
    _check(args)
    return args


def _module_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else "hyperwatt.workloads"


def _check(args: Args) -> None:
    if args.epochs < 1:
        raise UsageError(f"--epochs: must be at least 1, got {args.epochs}")
    if not (math.isfinite(args.learning_rate) and args.learning_rate > 0):
        raise UsageError(f"--learning-rate: must be a positive number, got {args.learning_rate}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size: must be at least 1, got {args.batch_size}")
    if not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        raise UsageError(f"--weight-decay: must be zero or positive, got {args.weight_decay}")
    if not (0.0 <= args.dropout < 1.0):
        raise UsageError(f"--dropout: must be in [0, 1), got {args.dropout}")
    if args.seed < 0:
        raise UsageError(f"--seed: must be zero or positive, got {args.seed}")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise UsageError(f"--data-dir: {args.data_dir}: not a directory")


def choose_device(requested: str) -> torch.device:
    """`auto` takes the first GPU when one is visible; an explicit CUDA device must exist."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise UsageError(f"--device: {requested!r} is not auto, cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise UsageError(f"--device: {requested!r} is not auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise UsageError(f"--device: {requested}: no CUDA GPU is visible to this process")
    index = device.index or 0
    if index >= torch.cuda.device_count():
        raise UsageError(f"--device: {requested}: only {torch.cuda.device_count()} CUDA GPU(s) visible")
    return torch.device("cuda", index)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_threads(device: torch.device) -> int:
    """Intra-op threads: every CPU this process may use on CPU, a few on GPU; OMP_NUM_THREADS wins."""
    if not os.environ.get("OMP_NUM_THREADS"):
        cpus = _available_cpus()
        torch.set_num_threads(cpus if device.type == "cpu" else min(cpus, _GPU_RUN_THREADS))
    return torch.get_num_threads()


def seed_everything(seed: int, deterministic: bool, device: torch.device, cudnn_benchmark: bool = False
                   ) -> torch.Generator:
    """Seed torch (CPU and CUDA); return the generator that shuffles each epoch.

    Draws inside a training step (dropout, augmentation, pairing) use torch's default generator,
    which a CUDA graph advances on every replay.

    `deterministic` selects deterministic kernels where PyTorch has them; the few ops without one
    (some pooling backward passes on CUDA) warn instead of failing the run. `cudnn_benchmark` lets
    cuDNN time its algorithms for every new shape: off by default, since on an H200 that took
    DenseNet-121 (about 120 distinct convolutions) 25 s, longer than one small epoch.
    """
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", _CUBLAS_DETERMINISTIC)
        torch.use_deterministic_algorithms(True, warn_only=True)
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = cudnn_benchmark
    torch.manual_seed(seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


@dataclass(frozen=True)
class Run:
    """What a workload needs once started."""

    args: Args
    device: torch.device
    threads: int
    generator: torch.Generator
    started: float  # time.perf_counter() when the run started

    @property
    def graphs(self) -> bool:
        """Whether training steps replay from CUDA graphs (`--cuda-graphs on` on a GPU)."""
        return self.args.cuda_graphs and self.device.type == "cuda"


def start(args: Args) -> Run:
    """Pick the device, set threads and seeds, and say so."""
    device = choose_device(args.device)
    threads = configure_threads(device)
    generator = seed_everything(args.seed, args.deterministic, device, args.cudnn_benchmark)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    log(f"{args.workload}: device={device} ({name}) threads={threads} torch={torch.__version__}")
    return Run(args=args, device=device, threads=threads, generator=generator, started=time.perf_counter())


def log(message: str) -> None:
    print(message, flush=True)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace(" ", "_")


def log_settings(run: Run, **details: Any) -> None:
    """The line stating every effective setting, so a run's log shows what really acted."""
    a = run.args
    fields: dict[str, Any] = {
        "workload": a.workload, "epochs": a.epochs, "learning_rate": a.learning_rate,
        "batch_size": a.batch_size, "weight_decay": a.weight_decay, "dropout": a.dropout,
        "seed": a.seed, "size": a.size, "device": str(run.device), "threads": run.threads,
        "deterministic": a.deterministic, "cuda_graphs": run.graphs,
        "cudnn_benchmark": a.cudnn_benchmark and run.device.type == "cuda" and not a.deterministic,
    }
    fields.update(details)
    fields["setup_s"] = round(time.perf_counter() - run.started, 2)  # data and model built since start
    log("settings: " + " ".join(f"{k}={format_value(v)}" for k, v in fields.items()))


def log_epoch(
    epoch: int, epochs: int, loss: float, accuracy: float, lr: float, duration_s: float, **extra: float
) -> None:
    """One human-readable line and one metrics record per epoch."""
    parts = [f"epoch {epoch}/{epochs}", f"loss={loss:.4f}", f"accuracy={accuracy:.4f}", f"lr={lr:.6g}"]
    parts += [f"{k}={v:.4f}" for k, v in extra.items()]
    parts.append(f"time_s={duration_s:.2f}")
    log(" ".join(parts))
    emit(epoch=epoch, train_loss=loss, train_accuracy=accuracy, **extra)  # lr and time stay in the log


def log_final(lines: Sequence[str], **metrics: float) -> None:
    """The closing lines (in the seed system's wording), the final metrics record, then teardown."""
    for line in lines:
        log(line)
    for name, value in metrics.items():
        if not math.isfinite(value):
            raise WorkloadError(f"metric {name} is {value}: the training diverged")
    emit(**metrics)
    mark_phase("teardown")


def mark_phase(name: str, epoch: int | None = None, samples: int | None = None) -> None:
    """A phase event, once the GPU has finished the work queued so far (so the boundary is where the
    device's work changes, not where the CPU ran ahead to)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    phase(name, epoch=epoch, samples=samples)


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def batches(n: int, batch_size: int, generator: torch.Generator | None, device: torch.device) -> Iterator[torch.Tensor]:
    """Index tensors covering range(n): shuffled with `generator`, in order without one."""
    if generator is None:
        order = torch.arange(n, device=device)
    else:
        order = torch.randperm(n, generator=generator, device=device)
    for lo in range(0, n, batch_size):
        yield order[lo:lo + batch_size]


class Tally:
    """Running sums kept on the device, so the training loop never waits for the GPU."""

    def __init__(self, device: torch.device) -> None:
        self._loss = torch.zeros((), dtype=torch.float64, device=device)
        self._correct = torch.zeros((), dtype=torch.int64, device=device)
        self.count = 0

    @classmethod
    def of(cls, loss_sum: torch.Tensor, correct: torch.Tensor, count: int) -> Tally:
        """A tally from sums kept elsewhere (loss summed over samples, correct answers)."""
        tally = cls(loss_sum.device)
        tally._loss, tally._correct, tally.count = loss_sum, correct, count
        return tally

    def add(self, loss: torch.Tensor, correct: torch.Tensor, count: int) -> None:
        """`loss` is the batch mean; `correct` the number of right answers in the batch."""
        self._loss += loss.detach().to(torch.float64) * count
        self._correct += correct.detach()
        self.count += count

    def mean_loss(self) -> float:
        return float(self._loss.item()) / max(self.count, 1)

    def accuracy(self) -> float:
        return float(self._correct.item()) / max(self.count, 1)


class Stopwatch:
    """Wall seconds since creation (the caller synchronises the GPU first when it matters)."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self._t0


def run_main(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> int:
    """Run a workload's `main`; failures become one line on stderr and a non-zero status."""
    prog = _module_name()
    try:
        main(argv)
    except WorkloadError as err:
        print(f"{prog}: error: {err}", file=sys.stderr, flush=True)
        return err.exit_code
    except torch.cuda.OutOfMemoryError:
        print(f"{prog}: error: out of GPU memory; try a smaller --batch-size or --size", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return 130
    except Exception as err:  # a bug: keep the traceback, end with the one-line summary
        traceback.print_exc()
        print(f"{prog}: error: {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr, flush=True)
        return 1
    return 0
