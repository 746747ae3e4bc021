#!/usr/bin/env python3
"""Lifecycle costs of parallel mode, against the seed's fixed waits (30 s start-up, 60 s sleep).

1. Stop latency over N stops of a background that really holds the GPU: a BackgroundLoop running a
   CUDA matmul loop is started, judged on the GPU (its process in NVML's list and utilisation > 0),
   then stopped with the engine's grace (50 ms); the latency is until its whole tree is gone.
2. From a finished parallel session (`--results DIR --session ID`, e.g. the parallel feasibility
   run): readiness time per experiment vs the seed's blind 30 s; non-training overhead per
   experiment (everything but the foreground's own run time: baseline, readiness, stop, checks,
   cooldown) vs the seed's 30 s + 60 s; and each experiment's start temperature vs the session's
   idle reference (target: within 2 °C).

GPU:  PYTHONPATH=src python3 benchmarks/lifecycle.py --out DIR [--stops 50] [--results R --session S]
Writes DIR/lifecycle.json and DIR/lifecycle.md and prints the tables last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hyperwatt.process import BackgroundLoop  # noqa: E402
from hyperwatt.sensors import discover  # noqa: E402

LOAD = """
import torch, time
x = torch.randn(4096, 4096, device="cuda")
print("on gpu", flush=True)
while True:
    x = x @ x
    x = x / x.norm()
"""
SEED_STARTUP_S = 30.0
SEED_SLEEP_S = 60.0


def pctl(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def stop_latencies(n: int, out: Path, gpu_index: int) -> dict[str, Any]:
    sensors = discover(gpu_indices=[gpu_index], cpu=False)
    gpu = sensors.gpus()[0] if sensors.gpus() else None
    script = out / "load.py"
    script.write_text(LOAD)
    latencies, escalations, waits = [], 0, []
    try:
        for i in range(n):
            loop = BackgroundLoop([sys.executable, str(script)], cwd=out, env=_env(gpu_index),
                                  log_dir=out / "stops", token=f"hw-lifecycle-{i}", min_run_s=60.0)
            t0 = time.monotonic()
            loop.start()
            while time.monotonic() - t0 < 60:
                pids = set(loop.live_pids())
                if gpu is None:
                    time.sleep(2.0)
                    break
                if pids & {p.pid for p in gpu.processes()} and (gpu.read().util_pct or 0) > 0:
                    break
                time.sleep(0.05)
            waits.append(time.monotonic() - t0)
            result = loop.stop(grace_s=0.05)
            latencies.append(result.latency_s)
            escalations += result.escalated
            if result.survivors:
                raise SystemExit(f"stop {i}: survivors {result.survivors}")
    finally:
        sensors.close()
    return {
        "n": n, "p50_ms": 1000 * pctl(latencies, 0.5), "p99_ms": 1000 * pctl(latencies, 0.99),
        "max_ms": 1000 * max(latencies), "mean_ms": 1000 * statistics.fmean(latencies),
        "sigkill_needed": escalations, "mean_time_to_gpu_s": statistics.fmean(waits),
        "gpu": sensors.gpus()[0].info.device if gpu is not None else None,
    }


def _env(gpu_index: int) -> dict[str, str]:
    import os

    return {**os.environ, "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": str(gpu_index)}


def session_overheads(results: Path, session: str) -> dict[str, Any]:
    rows = []
    ref_temp = None
    recs = [json.loads(p.read_text()) for p in (results / session).glob("*/experiment.json")]
    for rec in sorted(recs, key=lambda r: r["started_wall"]):
        if rec["mode"] != "parallel":
            continue
        base = next((v for k, v in rec["energy"].get("idle_baseline", {}).items() if k.startswith("gpu")), {})
        temp = base.get("temp_c")
        ref_temp = temp if ref_temp is None else ref_temp
        fg = rec.get("duration_s") or 0.0
        cooldown = (rec.get("cooldown") or {}).get("duration_s") or 0.0
        total = (rec["ended_wall"] - rec["started_wall"]) + cooldown
        bg = rec.get("background") or {}
        rows.append({
            "experiment": rec["experiment_id"], "status": rec["status"],
            "readiness_s": (bg.get("readiness") or {}).get("waited_s"),
            "foreground_s": fg, "overhead_s": total - fg, "cooldown_s": cooldown,
            "start_temp_c": temp, "coverage": bg.get("coverage"),
            "stop_latency_ms": 1000 * ((bg.get("stop") or {}).get("latency_s") or 0.0),
        })
    for row in rows:
        t = row["start_temp_c"]
        row["start_vs_idle_c"] = None if t is None or ref_temp is None else t - ref_temp
    ready = [r["readiness_s"] for r in rows if r["readiness_s"] is not None]
    over = [r["overhead_s"] for r in rows]
    return {
        "experiments": rows,
        "readiness_mean_s": statistics.fmean(ready) if ready else None,
        "readiness_max_s": max(ready) if ready else None,
        "overhead_mean_s": statistics.fmean(over) if over else None,
        "seed_overhead_s": SEED_STARTUP_S + SEED_SLEEP_S,
        "idle_reference_temp_c": ref_temp,
        "within_2c": sum(1 for r in rows if r["start_vs_idle_c"] is not None and abs(r["start_vs_idle_c"]) <= 2.0),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = []
    s = result.get("stops")
    if s:
        lines += [f"Stop latency over {s['n']} stops of a GPU-loading background ({s['gpu']}):", "",
                  "| p50 | p99 | max | mean | SIGKILL needed | mean time until on GPU |", "|---|---|---|---|---|---|",
                  f"| {s['p50_ms']:.1f} ms | {s['p99_ms']:.1f} ms | {s['max_ms']:.1f} ms | {s['mean_ms']:.1f} ms | "
                  f"{s['sigkill_needed']}/{s['n']} | {s['mean_time_to_gpu_s']:.2f} s |", ""]
    o = result.get("session")
    if o:
        lines += [f"Readiness: mean {o['readiness_mean_s']:.1f} s, max {o['readiness_max_s']:.1f} s (seed: a blind "
                  f"{SEED_STARTUP_S:.0f} s). Non-training overhead per experiment: mean {o['overhead_mean_s']:.1f} s "
                  f"(seed: {o['seed_overhead_s']:.0f} s). Start temperature within 2 °C of the idle reference "
                  f"({o['idle_reference_temp_c']} °C): {o['within_2c']}/{len(o['experiments'])}.", "",
                  "| experiment | status | readiness | foreground | overhead | cooldown | start temp Δ | coverage | stop |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in o["experiments"]:
            lines.append(f"| {r['experiment']} | {r['status']} | {_f(r['readiness_s'])} s | {_f(r['foreground_s'])} s | "
                         f"{_f(r['overhead_s'])} s | {_f(r['cooldown_s'])} s | {_f(r['start_vs_idle_c'])} °C | "
                         f"{_f(100 * r['coverage'] if r['coverage'] is not None else None)} % | "
                         f"{_f(r['stop_latency_ms'])} ms |")
    return "\n".join(lines) + "\n"


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--stops", type=int, default=50)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--results", type=Path)
    ap.add_argument("--session")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    if args.stops > 0:
        result["stops"] = stop_latencies(args.stops, args.out, args.gpu)
    if args.results and args.session:
        result["session"] = session_overheads(args.results, args.session)
    (args.out / "lifecycle.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (args.out / "lifecycle.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
