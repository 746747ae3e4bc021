#!/usr/bin/env python3
"""How NVML's energy counter looks to one process while another process reads it too.

For each contender (none; a reader every 20 ms; one reading back to back; nvidia-smi once a second),
this process first reads the counter back to back for `--raw-s` seconds (read start, end, value),
then runs hyperwatt's Monitor for `--monitor-s` seconds and measures a window in its middle. Every
read of both processes is kept, so the step grid each one sees can be compared.

GPU:  PYTHONPATH=src python3 benchmarks/counter_contention.py --out DIR [--gpu 0]
Writes DIR/counter_contention.json and prints a summary per contender.
"""

from __future__ import annotations

import argparse
import json
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hyperwatt.sensors import Monitor, discover

#: contender -> the reader's interval in seconds (0: back to back; -1: nvidia-smi once a second), None: none
CONTENDERS: dict[str, float | None] = {"none": None, "reader-20ms": 0.02, "reader-b2b": 0.0, "nvidia-smi-1hz": -1.0}


def reader(gpu: int, interval_s: float, out: str) -> None:
    """The contender: read the counter every `interval_s` (0: back to back; -1: run nvidia-smi once a
    second) until stdin closes."""
    import pynvml

    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(gpu)
    reads = []
    print("ready", flush=True)
    while True:
        a = time.monotonic()
        if interval_s < 0:
            subprocess.run(["nvidia-smi", "--query-gpu=power.draw", "--format=csv,noheader"], capture_output=True)
            v = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
        else:
            v = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
        b = time.monotonic()
        reads.append((a, b, v))
        wait = 1.0 if interval_s < 0 else interval_s
        if select.select([sys.stdin], [], [], max(0.0, a + wait - time.monotonic()))[0]:
            break
    Path(out).write_text(json.dumps(reads))


def steps_seen(reads: list) -> dict:
    """Step intervals seen in back-to-back reads: count, median and spread of the spacing."""
    steps = [(a0 + b1) / 2 for (a0, _b0, v0), (_a1, b1, v1) in zip(reads, reads[1:]) if v1 != v0]
    gaps = [y - x for x, y in zip(steps, steps[1:])]
    lat = [b - a for a, b, _ in reads]
    return {"reads": len(reads), "steps": len(steps), "median_step_gap_s": statistics.median(gaps) if gaps else None,
            "min_gap_s": min(gaps) if gaps else None, "max_gap_s": max(gaps) if gaps else None,
            "median_latency_ms": 1000 * statistics.median(lat), "max_latency_ms": 1000 * max(lat)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--raw-s", type=float, default=3.0)
    ap.add_argument("--monitor-s", type=float, default=8.0)
    ap.add_argument("--reader", nargs=2, metavar=("INTERVAL_S", "FILE"))
    args = ap.parse_args()
    if args.reader:
        reader(args.gpu, float(args.reader[0]), args.reader[1])
        return
    import pynvml

    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(args.gpu)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {}
    for name, interval in CONTENDERS.items():
        proc = None
        other_file = args.out / f"{name}.reads.json"
        if interval is not None:
            proc = subprocess.Popen([sys.executable, __file__, "--out", str(args.out), "--gpu", str(args.gpu),
                                     "--reader", str(interval), str(other_file)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            proc.stdout.readline()
        time.sleep(0.5)
        raw = []
        end = time.monotonic() + args.raw_s
        while time.monotonic() < end:
            a = time.monotonic()
            v = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
            raw.append((a, time.monotonic(), v))
        sensors = discover(gpu_indices=[args.gpu], cpu=False)
        monitor = Monitor(sensors, rate_hz=20.0)
        monitor.start()
        t_start = time.monotonic()
        time.sleep(args.monitor_s / 2)
        monitor.sample_now()
        t0 = time.monotonic()
        time.sleep(2.0)
        monitor.sample_now()
        t1 = time.monotonic()
        est = next(iter(monitor.measure(t0, t1).values()))
        time.sleep(max(0.0, t_start + args.monitor_s - time.monotonic()))
        stats = monitor.stats()
        gpu = sensors.gpus()[0].name
        samples = [(s.t_mono, s.energy_j, s.read_latency_s, s.power_w) for s in monitor.samples(gpu)]
        monitor.stop()
        sensors.close()
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.write("stop\n")
            proc.stdin.close()
            proc.wait(timeout=10)
        other = json.loads(other_file.read_text()) if other_file.exists() else None
        result[name] = {
            "raw": raw, "raw_summary": steps_seen(raw), "other": other,
            "other_summary": steps_seen(other) if other else None,
            "monitor_samples": samples, "window": [t0, t1],
            "estimate": {"energy_j": est.energy_j, "bound_j": est.uncertainty_j, "partial": est.partial,
                         "reason": est.reason},
            "counter_stats": {k: vars(v) for k, v in stats.counters.items()},
        }
        print(name, json.dumps({k: result[name][k] for k in ("raw_summary", "other_summary", "estimate",
                                                             "counter_stats")}), flush=True)
    (args.out / "counter_contention.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
