#!/usr/bin/env python3
"""Does measuring slow training down? A fixed GPU training loop timed with no monitor, with
hyperwatt's Monitor at its default rate, and with a 1 Hz nvidia-smi loop (the seed's sampler).

The training runs in a worker subprocess (as under hyperwatt); the monitors run in this process.
Modes are interleaved and repeated to control drift. Reports the slowdown of each mode against
no monitor, and the CPU the sampler thread used (thread CPU time, % of one core).

GPU:  PYTHONPATH=src python3 benchmarks/monitor_overhead.py --out DIR [--gpu 0] [--repeats 3] [--seconds 20]
CPU:  PYTHONPATH=src python3 benchmarks/monitor_overhead.py --fake --out DIR   (Python loop, fake GPU sensor)

Writes DIR/monitor_overhead.json and DIR/monitor_overhead.md and prints the table last.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hyperwatt.sensors import Monitor, SensorSet, discover  # noqa: E402
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor  # noqa: E402

MODES = ("none", "hyperwatt", "nvidia-smi-1hz")
TARGET_SLOWDOWN_PCT = 0.5
TARGET_SAMPLER_CPU_PCT = 2.0


# --- the worker ----------------------------------------------------------------------------------
def worker(fake: bool, seconds: float) -> None:
    """Calibrate a step count for ~`seconds`, print "steps N"; then answer each "run" with
    "done SECONDS" for exactly N steps; "quit" ends."""
    step = _cpu_step() if fake else _gpu_step()
    for _ in range(5):
        step()
    t = time.perf_counter()
    n_cal = 0
    while time.perf_counter() - t < min(2.0, seconds / 4) or n_cal < 10:
        step()
        n_cal += 1
    per_step = (time.perf_counter() - t) / n_cal
    steps = max(10, round(seconds / per_step))
    print(f"steps {steps}", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        t = time.perf_counter()
        for _ in range(steps):
            step()
        print(f"done {time.perf_counter() - t!r}", flush=True)


def _gpu_step():
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(128, 10),
    ).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(128, 3, 64, 64, device="cuda")
    y = torch.randint(0, 10, (128,), device="cuda")
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        torch.cuda.synchronize()

    return step


def _cpu_step():
    def step() -> None:  # pure Python: one core, steady
        sum(i * i for i in range(2000))

    return step


# --- the monitors under test ---------------------------------------------------------------------
class SmiLoop:
    """One `nvidia-smi --query-gpu=power.draw` a second, as the seed sampled (argv, no shell)."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples = 0

    def _run(self) -> None:
        start = time.monotonic()
        k = 0
        while not self._stop.is_set():
            try:
                subprocess.run(self.argv, capture_output=True, timeout=5, check=False)
                self.samples += 1
            except (OSError, subprocess.SubprocessError):
                pass
            k += 1
            self._stop.wait(max(0.0, start + k - time.monotonic()))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path)
    p.add_argument("--gpu", type=int, default=0, help="NVML (nvidia-smi) index")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seconds", type=float, default=20.0, help="length of one training run")
    p.add_argument("--rate", type=float, default=20.0, help="hyperwatt sampler rate, Hz (the default)")
    p.add_argument("--fake", action="store_true", help="a CPU loop and a fake GPU sensor (no GPU)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.fake, args.seconds)
        return 0
    if args.out is None:
        p.error("--out is required")

    if args.fake:
        sensors = SensorSet([FakeGpuSensor(FakeGpu(250.0, counter_read_cost_s=0.0035))])
        smi_argv = [sys.executable, "-c", "print(250.0)"]
        device, env = "CPU (Python loop; fake GPU sensor with 3.5 ms counter reads)", dict(os.environ)
    else:
        import pynvml

        sensors = discover(gpu_indices=[args.gpu], cpu=False)
        if not sensors.gpus():
            raise SystemExit(f"no hyperwatt sensor for GPU {args.gpu}: {sensors.unavailable}")
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(args.gpu)
        uuid = pynvml.nvmlDeviceGetUUID(h)
        device = f"{pynvml.nvmlDeviceGetName(h)} (index {args.gpu}, driver {pynvml.nvmlSystemGetDriverVersion()})"
        pynvml.nvmlShutdown()
        smi_argv = ["nvidia-smi", "--query-gpu=power.draw", "--format=csv,noheader,nounits", "-i", str(args.gpu)]
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": uuid if isinstance(uuid, str) else uuid.decode()}

    cmd = [sys.executable, __file__, "--worker", "--seconds", str(args.seconds)] + (["--fake"] if args.fake else [])
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert proc.stdin is not None and proc.stdout is not None
    first = proc.stdout.readline().split()
    if not first or first[0] != "steps":
        raise SystemExit("the training worker did not start (see its stderr above)")
    steps = int(first[1])
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    try:
        proc.stdin.write("run\n")  # one unmeasured run: caches, clocks
        proc.stdout.readline()
        for r in range(args.repeats):
            for mode in MODES[r % 3:] + MODES[:r % 3]:
                monitor = Monitor(sensors, rate_hz=args.rate) if mode == "hyperwatt" else None
                smi = SmiLoop(smi_argv) if mode == "nvidia-smi-1hz" else None
                for m in (monitor, smi):
                    if m is not None:
                        m.start()
                if monitor is not None:
                    time.sleep(1.0)  # the sampler's one-off counter lock happens before the run
                    before = monitor.stats()
                cpu0 = _children_cpu_s()
                proc.stdin.write("run\n")
                reply = proc.stdout.readline().split()
                if monitor is not None:
                    after = monitor.stats()
                for m in (monitor, smi):
                    if m is not None:
                        m.stop()
                if not reply or reply[0] != "done":
                    raise SystemExit("the training worker failed")
                row: dict[str, Any] = {"mode": mode, "repeat": r, "seconds": float(reply[1])}
                if monitor is not None:
                    wall = after.wall_s - before.wall_s
                    reads = sum(c.reads for c in after.counters.values()) - sum(c.reads for c in before.counters.values())
                    row |= {"sampler_cpu_pct": 100 * (after.cpu_s - before.cpu_s) / wall,
                            "achieved_rate_hz": (after.rounds - before.rounds) / wall,
                            "counter_reads_per_s": reads / wall,
                            "counter_mode": {k: c.mode for k, c in after.counters.items()},
                            "thread_error": monitor.thread_error}
                if smi is not None:
                    row |= {"smi_samples": smi.samples, "smi_cpu_pct": 100 * (_children_cpu_s() - cpu0) / row["seconds"]}
                runs.append(row)
                print(f"{mode} #{r + 1}: {row['seconds']:.3f} s", file=sys.stderr, flush=True)
    finally:
        proc.stdin.write("quit\n")
        proc.stdin.close()
        proc.wait(timeout=60)
        sensors.close()

    base = [x["seconds"] for x in runs if x["mode"] == "none"]
    summary = []
    for mode in MODES:
        secs = [x["seconds"] for x in runs if x["mode"] == mode]
        row = {"mode": mode, "runs": len(secs), "median_s": statistics.median(secs), "min_s": min(secs),
               "spread_pct": 100 * (max(secs) - min(secs)) / statistics.median(secs),
               "slowdown_pct": 100 * (statistics.median(secs) / statistics.median(base) - 1),
               "slowdown_min_pct": 100 * (min(secs) / min(base) - 1)}
        cpu = [x["sampler_cpu_pct"] for x in runs if x["mode"] == mode and x.get("sampler_cpu_pct") is not None]
        cpu += [x["smi_cpu_pct"] for x in runs if x["mode"] == mode and x.get("smi_cpu_pct") is not None]
        row["cpu_pct_of_a_core"] = statistics.fmean(cpu) if cpu else None
        summary.append(row)
    hw = next(s for s in summary if s["mode"] == "hyperwatt")
    verdict = {"slowdown_ok": hw["slowdown_pct"] <= TARGET_SLOWDOWN_PCT,
               "sampler_cpu_ok": hw["cpu_pct_of_a_core"] is not None and hw["cpu_pct_of_a_core"] <= TARGET_SAMPLER_CPU_PCT}
    result = {"device": device, "fake": args.fake, "steps_per_run": steps, "rate_hz": args.rate,
              "wall_s": time.monotonic() - started, "summary": summary, "verdict": verdict, "runs": runs}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "monitor_overhead.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"Monitor overhead on {device}: {steps} training steps per run, {args.repeats} interleaved runs per mode",
        "",
        "| mode | median s | slowdown (median) | slowdown (min) | run spread | CPU % of a core |",
        "|---|---|---|---|---|---|",
    ]
    for s in summary:
        cpu = "—" if s["cpu_pct_of_a_core"] is None else f"{s['cpu_pct_of_a_core']:.2f}"
        lines.append(f"| {s['mode']} | {s['median_s']:.3f} | {s['slowdown_pct']:+.2f} % | {s['slowdown_min_pct']:+.2f} % | "
                     f"{s['spread_pct']:.2f} % | {cpu} |")
    lines += ["", f"hyperwatt at {args.rate:g} Hz: slowdown {hw['slowdown_pct']:+.2f} % (target <= {TARGET_SLOWDOWN_PCT} %: "
                  f"{'yes' if verdict['slowdown_ok'] else 'NO'}), sampler CPU "
                  f"{(hw['cpu_pct_of_a_core'] or 0):.2f} % of a core (target <= {TARGET_SAMPLER_CPU_PCT} %: "
                  f"{'yes' if verdict['sampler_cpu_ok'] else 'NO'}). nvidia-smi CPU is its child processes'.", ""]
    text = "\n".join(lines)
    (args.out / "monitor_overhead.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
