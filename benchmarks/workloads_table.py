#!/usr/bin/env python3
"""Per-workload table from a session of plans/workloads_gpu.toml: wall time, GPU utilisation, peak
GPU memory, GPU energy and metrics, read from each experiment's record and energy/timeline.csv.

A one-epoch run is mostly start-up for the small models (interpreter, CUDA context, data), so the
utilisation is given twice: over the whole window, and over the busiest stretch as long as the
training epochs took (their `time_s` in the training log) — the training phase.

    PYTHONPATH=src python3 benchmarks/workloads_table.py --results DIR --session ID [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
from pathlib import Path

import numpy as np

EPOCH_TIME = re.compile(r"^epoch \d+/\d+ .*time_s=([0-9.]+)", re.M)
SETUP_TIME = re.compile(r"^settings: .*setup_s=([0-9.]+)", re.M)


def busiest_mean(samples: list[tuple[float, float]], length_s: float) -> float | None:
    """Highest mean of the sample values inside any stretch [a, a + length_s] of the samples' span
    (samples sorted by time; the whole span when it is shorter). Which samples a stretch holds
    changes only where a = t_i or a + length_s = t_i, so those starts and the midpoints between
    them cover every case."""
    if not samples or length_s <= 0:
        return None
    t = np.array([x for x, _ in samples])
    v = np.concatenate(([0.0], np.cumsum([y for _, y in samples])))
    if t[-1] - t[0] <= length_s:
        return float(v[-1] / len(t))
    first, last = t[0], t[-1] - length_s
    events = np.concatenate((t, t - length_s, [first, last]))
    events = np.unique(events[(events >= first) & (events <= last)])
    starts = np.concatenate((events, (events[1:] + events[:-1]) / 2))
    lo = np.searchsorted(t, starts - 1e-9, side="left")
    hi = np.searchsorted(t, starts + length_s + 1e-9, side="right")  # float noise at the far edge
    held = hi > lo  # a stretch between two samples holds none
    return float(np.max((v[hi][held] - v[lo][held]) / (hi - lo)[held]))


def _log_times(exp_dir: Path, rec: dict) -> tuple[float | None, float | None]:
    """Seconds building data and model, and the epochs' total, from the last attempt's log."""
    attempts = rec.get("attempts") or []
    log = exp_dir / attempts[-1]["log"] if attempts and attempts[-1].get("log") else None
    if log is None or not log.exists():
        return None, None
    text = log.read_text(errors="replace")
    setup = SETUP_TIME.search(text)
    epochs = [float(x) for x in EPOCH_TIME.findall(text)]
    return (float(setup.group(1)) if setup else None), (sum(epochs) if epochs else None)


def rows(results: Path, session: str) -> list[dict]:
    out = []
    for path in sorted((results / session).glob("*/experiment.json")):
        rec = json.loads(path.read_text())
        e = rec["energy"]
        t0, t1 = e.get("window_start_wall"), e.get("window_end_wall")
        util, mem, timed = [], [], []
        timeline = path.parent / "energy" / "timeline.csv"
        if timeline.exists() and t0 is not None:
            with timeline.open() as fh:
                for row in csv.DictReader(fh):
                    if not row["sensor"].startswith("gpu") or not (t0 <= float(row["t_wall"]) <= t1):
                        continue
                    if row["util_pct"]:
                        util.append(float(row["util_pct"]))
                        timed.append((float(row["t_wall"]), float(row["util_pct"])))
                    if row["mem_used_mib"]:
                        mem.append(float(row["mem_used_mib"]))
        base_mem = None
        for name, base in (e.get("idle_baseline") or {}).items():
            if name.startswith("gpu"):
                base_mem = base.get("mem_used_mib")
        setup_s, train_s = _log_times(path.parent, rec)
        out.append({
            "workload": rec["workload"], "status": rec["status"], "duration_s": rec.get("duration_s"),
            "setup_s": setup_s, "train_s": train_s,
            "util_training_pct": busiest_mean(sorted(timed), train_s) if train_s else None,
            "util_mean_pct": statistics.fmean(util) if util else None,
            "util_share_above_50": sum(u > 50 for u in util) / len(util) if util else None,
            "peak_mem_mib": max(mem) if mem else None, "idle_mem_mib": base_mem,
            "gpu_energy_j": e.get("gpu_energy_j"), "gpu_uncertainty_j": e.get("gpu_uncertainty_j"),
            "mean_power_w": next((s["mean_power_w"] for s in e.get("sensors", []) if s["domain"] == "gpu"), None),
            "metrics": rec.get("metrics", {}),
        })
    return out


def markdown(data: list[dict]) -> str:
    def f(x, fmt=".1f"):
        return "—" if x is None else format(x, fmt)

    lines = ["| workload | status | wall (1 epoch) | data + model | epoch | GPU util: window | time > 50 % util | "
             "GPU util: training | peak GPU memory | GPU energy | mean power | metrics |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in data:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r["metrics"].items())
                            if not k.startswith(("epoch", "lr")))
        lines.append(
            f"| {r['workload']} | {r['status']} | {f(r['duration_s'])} s | {f(r['setup_s'])} s | {f(r['train_s'])} s | "
            f"{f(r['util_mean_pct'])} % | "
            f"{f(100 * r['util_share_above_50'] if r['util_share_above_50'] is not None else None, '.0f')} % | "
            f"{f(r['util_training_pct'])} % | "
            f"{f(r['peak_mem_mib'], '.0f')} MiB | {f(r['gpu_energy_j'], '.0f')} ± {f(r['gpu_uncertainty_j'], '.1f')} J | "
            f"{f(r['mean_power_w'], '.0f')} W | {metrics} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--session", required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    data = rows(args.results, args.session)
    text = markdown(data)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(data, indent=2))
    print(text)
    sys.exit(0)


if __name__ == "__main__":
    main()
