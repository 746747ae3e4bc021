"""The built-in workloads' prepare step: build a synthetic data set once and store it in the data
cache (workloads/data/cache.py), so measured runs load it instead of generating it.

`python -m hyperwatt.workloads.prepare {digits|cifar|persons|persons-pcb|code-tokens} --size S
[--data-dir D] [--device DEV]` takes the flags the workloads take; with `--data-dir` the runs read
real files and there is nothing to prepare.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from hyperwatt.workloads._common import SIZES, _Parser, choose_device, log, run_main
from hyperwatt.workloads.data import cache, cifar_images, code_tokens, digit_images, person_images

PCB_SCALE = 1.5  # as hyperwatt.workloads.reid (imported there from here)
KINDS = ("digits", "cifar", "persons", "persons-pcb", "code-tokens")


def main(argv: Sequence[str] | None = None) -> None:
    parser = _Parser(prog="python -m hyperwatt.workloads.prepare", description=__doc__.splitlines()[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    if args.data_dir:
        log(f"prepare {args.kind}: real data from {args.data_dir}: nothing to prepare")
        return
    device = choose_device(args.device)
    started = time.perf_counter()
    cache.set_writing(True)
    if args.kind == "digits":
        digit_images(args.size, None, device)
    elif args.kind == "cifar":
        cifar_images(args.size, None, device)
    elif args.kind in ("persons", "persons-pcb"):
        person_images(args.size, None, device, PCB_SCALE if args.kind == "persons-pcb" else 1.0)
    else:
        code_tokens(args.size)
    log(f"prepared {args.kind} (size {args.size}) in {time.perf_counter() - started:.1f} s into {cache.cache_dir()}")


if __name__ == "__main__":
    raise SystemExit(run_main(main))
