#!/usr/bin/env python3
"""Does a 12-trial search find a setting that 12 random mutation draws do not dominate?

Runs plans/mutate_mnist.toml (12 joint mutation draws of learning rate and batch size) and
plans/search_mnist.toml (a 12-trial TPE search of the same parameters, default first) of the
built-in examples/mnist through hyperwatt, each into its own results directory (so the search
learns nothing from the mutation's runs), then compares the two sets of (total energy, test accuracy).

    PYTHONPATH=src python3 benchmarks/search_vs_mutation.py --out DIR [--mutation-results DIR2]

`--mutation-results` takes the mutation's runs from a results directory that already holds a
mutate_mnist session instead of running it again. Writes DIR/search_vs_mutation.json and .md
(printed last); the search's results (with its report.html) stay in DIR/search. About 24 short
trainings: minutes on a CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hyperwatt.analysis.command import report_command  # noqa: E402
from hyperwatt.config import Registry, load_plan  # noqa: E402
from hyperwatt.engine import SessionOptions, run_plan  # noqa: E402
from hyperwatt.records import ExperimentRecord  # noqa: E402
from hyperwatt.store import open_store  # noqa: E402

Point = tuple[float, float, str]  # (energy to minimise, accuracy to maximise, label)


def points(records: list[ExperimentRecord]) -> list[Point]:
    out = []
    for r in records:
        energy, acc = r.energy.total_energy_j, r.metrics.get("test_accuracy")
        if r.status == "succeeded" and energy is not None and acc is not None and not r.energy.partial:
            out.append((float(energy), float(acc), f"{r.label}: lr={r.hyperparameters['learning_rate']} "
                        f"batch={r.hyperparameters['batch_size']}"))
    return out


def dominates(a: Point, b: Point) -> bool:
    return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])


def front(pts: list[Point]) -> list[Point]:
    return sorted(p for p in pts if not any(dominates(q, p) for q in pts))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--mutation-results", type=Path, help="a results directory holding a mutate_mnist session")
    args = p.parse_args(argv)
    if args.mutation_results is not None:
        store = open_store(args.mutation_results, readonly=True)
        session = next(s for s in reversed(store.sessions()) if s.name == "mutate_mnist")
        mutation_id, mutation_records = session.session_id, store.experiments(session.session_id)
        store.close()
    else:
        mutation = run_plan(load_plan(ROOT / "plans" / "mutate_mnist.toml", Registry.builtin()),
                            SessionOptions(results_dir=args.out / "mutation"))
        mutation_id, mutation_records = mutation.session_id, mutation.records
    search = run_plan(load_plan(ROOT / "plans" / "search_mnist.toml", Registry.builtin()),
                      SessionOptions(results_dir=args.out / "search"))
    mut, found = points(mutation_records), points(search.records)
    undominated = [s for s in front(found) if not any(dominates(m, s) for m in mut)]
    report = report_command(search.session_id, args.out / "search", None, False)
    lines = ["12-trial search vs 12 mutation draws, examples/mnist (tiny, 2 epochs): total energy (J) and test "
             "accuracy of valid runs", "",
             f"- mutation session {mutation_id}: {len(mut)} valid run(s); its front: " +
             "; ".join(f"{e:.0f} J / {a:.4f} ({lab})" for e, a, lab in front(mut)),
             f"- search session {search.session_id}: {len(found)} valid trial(s); its front: " +
             "; ".join(f"{e:.0f} J / {a:.4f} ({lab})" for e, a, lab in front(found)),
             f"- search front settings no mutation draw dominates: {len(undominated)}" +
             ("".join(f"\n  - {e:.0f} J / {a:.4f} ({lab})" for e, a, lab in undominated)),
             f"- the search's report (Searches section): {report}"]
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search_vs_mutation.json").write_text(json.dumps(
        {"mutation": mut, "search": found, "undominated": undominated, "report": str(report)}, indent=2))
    (args.out / "search_vs_mutation.md").write_text(text)
    print(text)
    return 0 if undominated else 1


if __name__ == "__main__":
    sys.exit(main())
