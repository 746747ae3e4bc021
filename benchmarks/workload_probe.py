#!/usr/bin/env python3
"""Probe the built-in workloads on a GPU: does each run, how long do its phases take, how busy is
the GPU while it trains?

Each selected workload runs once as a subprocess (its registry argv plus `--size`, `--epochs` and
any `--extra` flags) while a 10 Hz NVML thread samples GPU utilisation. The log's settings line
(`setup_s`: data and model built) and epoch lines (`time_s`) split the run into start-up, training
and evaluation; utilisation is reported for the whole run and for the training epochs alone.
A smoke test with `--size tiny`, a profile with `--size small`; `--extra "--cuda-graphs off"`
gives the eager baseline.

GPU:  PYTHONPATH=src python3 benchmarks/workload_probe.py --out DIR [--size small] [--epochs 1]
          [--only mnist,densenet121] [--extra "--cuda-graphs off"] [--gpu 0]
Writes DIR/workload_probe.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hyperwatt.config.registry import Registry  # noqa: E402

EPOCH = re.compile(r"^epoch \d+/\d+ .*time_s=([0-9.]+)")
SETUP = re.compile(r"^settings: .*setup_s=([0-9.]+)")


class UtilSampler:
    """GPU utilisation at 10 Hz, timestamped with time.monotonic()."""

    def __init__(self, index: int) -> None:
        import pynvml

        pynvml.nvmlInit()
        self._nvml, self._h = pynvml, pynvml.nvmlDeviceGetHandleByIndex(index)
        self.samples: list[tuple[float, float, float]] = []  # t, util %, memory used MiB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            util = self._nvml.nvmlDeviceGetUtilizationRates(self._h).gpu
            mem = self._nvml.nvmlDeviceGetMemoryInfo(self._h).used / 2**20
            self.samples.append((time.monotonic(), float(util), mem))

    def __enter__(self) -> UtilSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def mean(self, t0: float, t1: float) -> float | None:
        values = [u for t, u, _ in self.samples if t0 <= t <= t1]
        return sum(values) / len(values) if values else None


def probe(name: str, argv: list[str], env: dict[str, str], sampler: UtilSampler | None, timeout_s: float
          ) -> dict[str, Any]:
    """Run one workload, timestamping its log lines as they arrive."""
    t0 = time.monotonic()
    lines: list[tuple[float, str]] = []
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
    assert proc.stdout is not None
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    for line in proc.stdout:
        lines.append((time.monotonic(), line.rstrip()))
    code = proc.wait()
    timer.cancel()
    t_end = time.monotonic()
    setup = next((t for t, s in lines if SETUP.match(s)), None)
    setup_s = next((float(m.group(1)) for _, s in lines if (m := SETUP.match(s))), None)
    epochs = [(t, float(m.group(1))) for t, s in lines if (m := EPOCH.match(s))]
    row: dict[str, Any] = {"workload": name, "exit": code, "wall_s": round(t_end - t0, 2),
                           "epoch_s": [e for _, e in epochs],
                           "capture_failed": any("capture failed" in s for _, s in lines),
                           "tail": [s for _, s in lines[-3:]]}
    if setup is not None:
        row["startup_s"] = round(setup - t0, 2)
        row["data_model_s"] = setup_s
    if epochs:
        row["eval_s"] = round(t_end - epochs[-1][0], 2)
    if sampler is not None:
        row["util_run_pct"] = sampler.mean(t0, t_end)
        if setup is not None and epochs:
            row["util_train_pct"] = sampler.mean(setup + 0.5, epochs[-1][0])
        mems = [m for t, _, m in sampler.samples if t0 <= t <= t_end]
        row["peak_mem_mib"] = max(mems) if mems else None
    return row


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.1f}"
    if isinstance(v, list):
        return "/".join(f"{x:.1f}" for x in v)
    return str(v)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--size", default="small")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--only", default="", help="comma list of substrings of workload names")
    p.add_argument("--extra", default="", help="more workload flags, e.g. '--cuda-graphs off'")
    p.add_argument("--gpu", type=int, default=0)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per workload")
    p.add_argument("--no-nvml", action="store_true", help="no utilisation sampling (CPU smoke test)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    registry = Registry.builtin()
    # the workload's cuda:0 is the GPU that is sampled (NVML numbers GPUs by PCI bus)
    env = {**os.environ, "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": str(args.gpu)}
    wanted = [w for w in args.only.split(",") if w]
    rows = []
    sampler = None if args.no_nvml else UtilSampler(args.gpu)
    with sampler if sampler is not None else _Null():
        for w in registry.all():
            if wanted and not any(s.lower() in w.name.lower() for s in wanted):
                continue
            argv = [a.format_map({"python": sys.executable}) for a in w.argv]
            argv += ["--size", args.size, "--epochs", str(args.epochs)] + shlex.split(args.extra)
            row = probe(w.name, argv, env, sampler, args.timeout)
            rows.append(row)
            print(json.dumps(row), flush=True)
    (args.out / "workload_probe.json").write_text(json.dumps(rows, indent=1))
    cols = ["workload", "exit", "wall_s", "startup_s", "data_model_s", "epoch_s", "eval_s", "util_run_pct", "util_train_pct",
            "peak_mem_mib", "capture_failed"]
    print(f"\nsize={args.size} epochs={args.epochs} extra={args.extra!r}")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    main()
