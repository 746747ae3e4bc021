#!/usr/bin/env python3
"""The GPU-machine runs behind docs/benchmarks.md, docs/workloads.md and docs/parallel.md, in parts
that each fit one device command (< 10 min). Every step has a deadline; a hyperwatt run that would
overrun is interrupted (SIGINT), keeping its partial results (resume later with --resume).

    PYTHONPATH=src python3 benchmarks/gpu_suite.py --part A|B|C|D|E --out DIR [--budget-s 540]

A: doctor, energy accuracy, monitor overhead, stop latency over 50 background stops.
B: every workload alone (plans/workloads_gpu.toml) and its table; then, time permitting, the
   workload probe (training-phase utilisation of each workload at size small).
C: the parallel feasibility plan (--strict), the seed's failure reproduced, the lifecycle costs of
   the feasibility session.
D: co-location attribution against the foreground and background measured alone
   (benchmarks/attribution.py, 3 pairs, about 5 minutes).
E: repeatability, the window's energy against the training phase's, and epochs 10 -> 11 at n = 2
   (benchmarks/repeatability.py, about 8 minutes; interrupted at the budget, it reports what ran).
Outputs (few files: the device returns at most 8): DIR/summary.md (every step's table), DIR/steps.json,
DIR/results.tar.gz (the results directory, with each step's log and outputs under results/bench/).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


class Suite:
    def __init__(self, final: Path, budget_s: float) -> None:
        self.final = final
        self.out = RESULTS / "bench"
        self.out.mkdir(parents=True, exist_ok=True)
        self.deadline = time.monotonic() + budget_s
        self.log: list[dict] = []

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def step(self, name: str, argv: list[str], reserve_s: float = 20.0, cwd: Path = ROOT) -> int | None:
        """Run argv with the time left minus a reserve; SIGINT then SIGKILL on overrun."""
        budget = self.left() - reserve_s
        if budget < 10:
            print(f"== {name}: skipped, {self.left():.0f} s left", flush=True)
            self.log.append({"step": name, "skipped": True})
            return None
        print(f"== {name}: {' '.join(argv)} (budget {budget:.0f} s)", flush=True)
        t0 = time.monotonic()
        with open(self.out / f"{name}.txt", "w") as fh:
            proc = subprocess.Popen(argv, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
            try:
                code = proc.wait(timeout=budget)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGINT)
                try:
                    code = proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = proc.wait()
        took = time.monotonic() - t0
        print(f"== {name}: exit {code} after {took:.0f} s", flush=True)
        self.log.append({"step": name, "exit": code, "seconds": round(took, 1)})
        return code

    def hyperwatt(self, name: str, *args: str, reserve_s: float = 20.0) -> None:
        self.step(name, [sys.executable, "-m", "hyperwatt", *args, "-o", str(RESULTS), "-q"], reserve_s)

    def finish(self) -> None:
        (self.final / "steps.json").write_text(json.dumps(self.log, indent=2))
        tables = [f"## {p.stem}\n\n{p.read_text()}" for p in sorted(self.out.glob("*.md"))]
        (self.final / "summary.md").write_text("\n".join(tables))
        with tarfile.open(self.final / "results.tar.gz", "w:gz") as tar:
            tar.add(RESULTS, arcname="results")


def _latest(plan_name: str) -> str | None:
    db = RESULTS / "hyperwatt.db"
    if not db.exists():
        return None
    row = sqlite3.connect(db).execute(
        "SELECT session_id FROM sessions WHERE name = ? ORDER BY started_wall DESC", (plan_name,)).fetchone()
    return row[0] if row else None


def part_a(s: Suite) -> None:
    py = sys.executable
    s.step("doctor", [py, "-m", "hyperwatt", "doctor"], reserve_s=400)
    s.step("energy_accuracy", [py, "benchmarks/energy_accuracy.py", "--out", str(s.out), "--repeats", "1"],
           reserve_s=330)
    s.step("monitor_overhead", [py, "benchmarks/monitor_overhead.py", "--out", str(s.out)], reserve_s=100)
    s.step("lifecycle_stops", [py, "benchmarks/lifecycle.py", "--out", str(s.out), "--stops", "50"], reserve_s=5)


def part_b(s: Suite) -> None:
    s.hyperwatt("workloads", "run", "plans/workloads_gpu.toml", "--resume", reserve_s=15)
    session = _latest("workloads_gpu")
    if session:
        s.step("workloads_table", [sys.executable, "benchmarks/workloads_table.py", "--results", str(RESULTS),
                                   "--session", session, "--out", str(s.out / "workloads_table.md")], reserve_s=2)
    if s.left() > 200:
        s.step("workload_probe", [sys.executable, "benchmarks/workload_probe.py", "--out", str(s.out),
                                  "--size", "small"], reserve_s=5)


def part_c(s: Suite) -> None:
    # the plan's ETA is about 8 minutes on an H200: leave only what the two short steps after it need
    s.hyperwatt("parallel_feasibility", "run", "plans/parallel_feasibility.toml", "--strict", "--resume",
                reserve_s=45)
    s.hyperwatt("seed_failure", "run", "examples/seed_failure/plan.toml", "-W", "examples/seed_failure/workloads.toml",
                reserve_s=10)
    argv = [sys.executable, "benchmarks/lifecycle.py", "--out", str(s.out), "--stops", "0"]
    feasibility = _latest("parallel_feasibility")
    if feasibility:
        argv += ["--results", str(RESULTS), "--session", feasibility]
    s.step("lifecycle", argv, reserve_s=5)


def part_d(s: Suite) -> None:
    s.step("attribution", [sys.executable, "benchmarks/attribution.py", "--out", str(s.out)], reserve_s=5)


def part_e(s: Suite) -> None:
    s.step("repeatability", [sys.executable, "benchmarks/repeatability.py", "--out", str(s.out / "repeatability")],
           reserve_s=5)
    table = s.out / "repeatability" / "repeatability.md"
    if table.exists():  # where finish() collects the tables
        (s.out / "repeatability.md").write_text(table.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices="ABCDE", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget-s", type=float, default=540)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    suite = Suite(args.out, args.budget_s)
    try:
        {"A": part_a, "B": part_b, "C": part_c, "D": part_d, "E": part_e}[args.part](suite)
    finally:
        suite.finish()
    print(json.dumps(suite.log, indent=1))


if __name__ == "__main__":
    main()
