#!/usr/bin/env python3
"""How many trials does a search need, against random mutation, to find the energy x accuracy front?

On the simulated training of `hyperwatt.search.simulated` (a known surface over learning rate, batch
size and epochs; energy to minimise, accuracy to maximise), each sampler runs through hyperwatt's
search driver (the same ask / tell loop and trial bookkeeping as a real search) until the front it
found holds >= 90 % of the true front's hypervolume (from a dense grid). Random sampling is
hyperwatt's joint mutation: independent draws from the same declared distributions.

    PYTHONPATH=src python3 benchmarks/search_efficiency.py --out DIR [--seeds 5] [--target 0.9]

Writes DIR/search_efficiency.json and .md; prints the table last. Runs on a CPU in about a minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hyperwatt.search import SearchDriver, parse_objectives  # noqa: E402
from hyperwatt.search.simulated import (  # noqa: E402
    REFERENCE_POINT, WORKLOAD, SimulatedEvaluator, hypervolume, true_hypervolume,
)
from hyperwatt.search.space import distributions, to_values  # noqa: E402
from hyperwatt.search.study import make_sampler, open_study  # noqa: E402

PARAMS = ["learning_rate", "batch_size", "epochs"]
CAPS = {"random": 1000, "tpe": 250, "nsga2": 600}


def trials_to_target(kind: str, seed: int, target: float, cap: int, true_hv: float) -> tuple[int | None, float]:
    """Trials until the found front reaches `target` x the true hypervolume (None: not within `cap`)."""
    sampler = make_sampler(kind, 2, cap, seed, None, constrained=False)
    study = open_study(None, f"{kind}-{seed}", ["minimize", "maximize"], sampler)
    driver = SearchDriver(study, distributions(WORKLOAD, PARAMS), parse_objectives(["gpu_energy_j:min", "accuracy:max"]),
                          [], cap, lambda p: to_values(WORKLOAD, p),
                          lambda v: repr(sorted((k, x.text) for k, x in v.items())),
                          {"learning_rate": 0.01, "batch_size": 64, "epochs": 10})
    outcome = driver.run(SimulatedEvaluator(seed=seed))
    points: list[tuple[float, float]] = []
    share = 0.0
    for k, result in enumerate(outcome.results, start=1):
        if result.objectives:
            points.append((result.objectives[0], result.objectives[1]))
            share = hypervolume(points, REFERENCE_POINT) / true_hv
            if share >= target:
                return k, share
    return None, share


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--target", type=float, default=0.9)
    p.add_argument("--samplers", default="random,tpe,nsga2")
    args = p.parse_args(argv)
    started = time.monotonic()
    true_hv = true_hypervolume()
    rows = []
    for kind in args.samplers.split(","):
        runs = [trials_to_target(kind, s, args.target, CAPS[kind], true_hv) for s in range(args.seeds)]
        needed = [n if n is not None else CAPS[kind] + 1 for n, _ in runs]  # censored at the cap
        rows.append({"sampler": kind, "trials": [n for n, _ in runs], "final_share": [s for _, s in runs],
                     "median_trials": statistics.median(needed), "cap": CAPS[kind],
                     "reached": sum(n is not None for n, _ in runs)})
    base = next(r for r in rows if r["sampler"] == "random")["median_trials"]
    for r in rows:
        r["ratio_vs_random"] = r["median_trials"] / base
    lines = [f"Trials to reach {100 * args.target:.0f} % of the true front's hypervolume (simulated training, "
             f"{args.seeds} seeds; a run that never reached it counts as cap + 1)", "",
             "| sampler | trials per seed | median | vs random mutation | reached |", "|---|---|---|---|---|"]
    censored = base > CAPS["random"]  # random never got there: its true need is larger, the ratios smaller
    for r in rows:
        per = ", ".join("—" if n is None else str(n) for n in r["trials"])
        more = ">" if r["median_trials"] > r["cap"] else ""
        ratio = "1" if r["sampler"] == "random" else f"{'≤ ' if censored else ''}{r['ratio_vs_random']:.2f}"
        lines.append(f"| {r['sampler']} | {per} | {more}{r['median_trials'] - (1 if more else 0):g} | {ratio} "
                     f"| {r['reached']}/{len(r['trials'])} |")
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search_efficiency.json").write_text(json.dumps(
        {"target": args.target, "true_hypervolume": true_hv, "wall_s": time.monotonic() - started, "rows": rows},
        indent=2))
    (args.out / "search_efficiency.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
