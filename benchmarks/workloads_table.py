#!/usr/bin/env python3
"""Per-workload table from a session of plans/workloads_gpu.toml: wall time, GPU utilisation, peak
GPU memory, GPU energy and metrics, read from each experiment's record and energy/timeline.csv.

    PYTHONPATH=src python3 benchmarks/workloads_table.py --results DIR --session ID [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path


def rows(results: Path, session: str) -> list[dict]:
    out = []
    for path in sorted((results / session).glob("*/experiment.json")):
        rec = json.loads(path.read_text())
        e = rec["energy"]
        t0, t1 = e.get("window_start_wall"), e.get("window_end_wall")
        util, mem = [], []
        timeline = path.parent / "energy" / "timeline.csv"
        if timeline.exists() and t0 is not None:
            with timeline.open() as fh:
                for row in csv.DictReader(fh):
                    if not row["sensor"].startswith("gpu") or not (t0 <= float(row["t_wall"]) <= t1):
                        continue
                    if row["util_pct"]:
                        util.append(float(row["util_pct"]))
                    if row["mem_used_mib"]:
                        mem.append(float(row["mem_used_mib"]))
        base_mem = None
        for name, base in (e.get("idle_baseline") or {}).items():
            if name.startswith("gpu"):
                base_mem = base.get("mem_used_mib")
        out.append({
            "workload": rec["workload"], "status": rec["status"], "duration_s": rec.get("duration_s"),
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

    lines = ["| workload | status | wall (1 epoch) | GPU util mean | time > 50 % util | peak GPU memory | "
             "GPU energy | mean power | metrics |", "|---|---|---|---|---|---|---|---|---|"]
    for r in data:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r["metrics"].items())
                            if not k.startswith(("epoch", "lr")))
        lines.append(
            f"| {r['workload']} | {r['status']} | {f(r['duration_s'])} s | {f(r['util_mean_pct'])} % | "
            f"{f(100 * r['util_share_above_50'] if r['util_share_above_50'] is not None else None, '.0f')} % | "
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
