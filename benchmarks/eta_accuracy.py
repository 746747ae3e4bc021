#!/usr/bin/env python3
"""How good are hyperwatt's ETAs? Replays recorded sessions: after a fraction (`--at`, 20 %) of a
session's experiments had finished, what did the ETA say about the rest, and how long did the rest take?

For every finished session in `--results` (or those named with `--session`), in the order they ran:
the estimator gets the store's history of the sessions that ran *before* it (never its own or later
ones), observes the first k = max(1, round(at × n)) experiments to finish (their training time and
their wall time, as the live display does), and predicts the remaining experiments of the session's
plan (its saved plan.toml). The truth is the wall time from the k-th experiment's finish (after its
cooldown) to the last one's. Two older estimators are scored alongside: the median wall time of the
finished experiments × the number left (the ETA before this change), and declared durations alone.

  PYTHONPATH=src python3 benchmarks/eta_accuracy.py --run plans/quickstart.toml --sessions 2 --out DIR
      runs the plan `--sessions` times on this machine (the first run has no history), then replays them;
  PYTHONPATH=src python3 benchmarks/eta_accuracy.py --results results --out DIR
      replays what a results directory already holds;
  PYTHONPATH=src python3 benchmarks/eta_accuracy.py --fake --out DIR
      synthetic recorded histories (a workload whose time per epoch follows batch size, a machine 1.6x
      slower in the replayed session than in its history), in seconds, for CI.

Writes DIR/eta_accuracy.json and DIR/eta_accuracy.md and prints the table last.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hyperwatt.config import LoadedPlan, Registry, load_plan  # noqa: E402
from hyperwatt.engine.eta import Estimator, Past, declared_s, overhead_s  # noqa: E402
from hyperwatt.mutation import PlannedExperiment, expand  # noqa: E402
from hyperwatt.records import ExperimentRecord  # noqa: E402

FINISHED = ("succeeded", "invalid", "failed")


@dataclass
class Replay:
    session: str
    plan: str
    experiments: int
    observed: int
    actual_s: float
    eta_s: float | None
    eta_low_s: float | None
    eta_high_s: float | None
    error_pct: float | None
    in_range: bool | None
    median_error_pct: float | None
    declared_error_pct: float | None
    history_runs: int
    #: the plan's experiments that did not finish (interrupted, never started): in neither the ETA nor the truth
    cut_short: int = 0
    #: experiments at a time (the session's slots)
    slots: int = 1


def _finish(r: ExperimentRecord) -> float:
    assert r.ended_wall is not None
    return r.ended_wall + (r.cooldown.duration_s if r.cooldown is not None else 0.0)


def _past(records: list[ExperimentRecord]) -> dict[str, list[Past]]:
    out: dict[str, list[Past]] = {}
    for r in records:
        if r.status in ("succeeded", "invalid") and r.duration_s:
            out.setdefault(r.workload, []).append(
                Past(r.duration_s, r.hyperparameters, r.mode, r.background.workload if r.background else None))
    return out


def _pct(estimate: float | None, actual: float) -> float | None:
    return None if estimate is None or actual <= 0 else 100.0 * (estimate - actual) / actual


def replay(loaded: LoadedPlan, session: str, started_wall: float, records: list[ExperimentRecord],
           history: list[ExperimentRecord], at: float) -> Replay | None:
    """The ETA after `at` of the session's experiments finished, against what the rest took.

    A session cut short (interrupted, or a deadline) is replayed as the plan of the experiments that
    finished: the interrupted one and those never started are in neither the ETA nor the truth.
    With several slots, an experiment still running when the k-th finished counts as running
    (the seconds it had run come off its estimate) and the ETA spreads over the slots."""
    done = sorted((r for r in records if r.status in FINISHED and r.ended_wall is not None), key=_finish)
    if len(done) < 2:
        return None
    planned = expand(loaded).experiments
    plan = {pe.slot: pe for pe in planned}
    slots = len({str(r.environment.get("slot", "")) for r in records if r.status != "skipped"}) or 1
    k = min(max(1, round(at * len(done))), len(done) - 1)
    past = _past(history)
    est = Estimator(lambda w: past.get(w, []))
    walls = []
    for r in done[:k]:  # as the live display sees them: from the experiment's start to its cooldown's end
        pe = plan.get(r.slot)
        wall = _finish(r) - (r.started_wall if r.started_wall is not None else started_wall)
        walls.append(wall)
        if pe is not None:
            est.observe(pe, r.duration_s if r.status in ("succeeded", "invalid") else None, wall,
                        r.environment.get("prepare", []))
    now = _finish(done[k - 1])
    pending: list[PlannedExperiment] = []
    running: list[tuple[PlannedExperiment, float]] = []
    for r in done[k:]:
        if r.slot not in plan:
            continue
        if r.started_wall is not None and r.started_wall < now:
            running.append((plan[r.slot], now - r.started_wall))
        else:
            pending.append(plan[r.slot])
    actual = _finish(done[-1]) - now
    eta = est.remaining(pending, running, slots)
    pending += [pe for pe, _ in running]
    declared = [declared_s(pe) + overhead_s(pe) for pe in pending if pe.workload.estimated_duration_s is not None]
    declared_total = sum(declared) / slots if len(declared) == len(pending) else None
    err = _pct(eta.central_s, actual) if not eta.unknown else None
    return Replay(
        session=session, plan=loaded.plan.name, experiments=len(done), observed=k, actual_s=actual,
        eta_s=eta.central_s, eta_low_s=eta.low_s, eta_high_s=eta.high_s, error_pct=err,
        in_range=(eta.low_s is not None and eta.high_s is not None and eta.low_s <= actual <= eta.high_s
                  and not eta.unknown),
        median_error_pct=_pct(statistics.median(walls) * len(pending) / slots, actual),
        declared_error_pct=_pct(declared_total, actual), history_runs=sum(len(v) for v in past.values()),
        cut_short=len(planned) - len(done), slots=slots,
    )


def replay_results(results: Path, sessions: list[str] | None, at: float) -> list[Replay]:
    from hyperwatt.store import SessionLayout, open_store

    store = open_store(results, readonly=True)
    rows = sorted(store.sessions(), key=lambda s: s.started_wall)
    everything = store.experiments()
    out = []
    for row in rows:
        if sessions and row.session_id not in sessions:
            continue
        loaded = load_plan(SessionLayout(results, row.session_id).plan, Registry.builtin())
        before = {s.session_id for s in rows if s.started_wall < row.started_wall}
        mine = [r for r in everything if r.session_id == row.session_id]
        history = [r for r in everything if r.session_id in before]
        result = replay(loaded, row.session_id, row.started_wall, mine, history, at)
        if result is not None:
            out.append(result)
    return out


def run_plan_times(plan: Path, sessions: int, results: Path) -> None:
    from hyperwatt.engine import SessionOptions, run_plan

    for i in range(sessions):
        loaded = load_plan(plan, Registry.builtin())
        print(f"running {plan} ({i + 1}/{sessions}) into {results}", flush=True)
        run_plan(loaded, SessionOptions(results_dir=results, rerun=True))


FAKE_WORKLOAD = '''
[workloads."fake/cnn"]
argv = ["{python}", "-c", "pass"]
estimated_duration_s = 30
estimated_startup_s = 5
[workloads."fake/cnn".hyperparameters]
epochs = { flag = "--epochs", type = "int", default = 4, range = [1, 8] }
batch_size = { flag = "--batch-size", type = "int", default = 64, range = [16, 256], distribution = "log_uniform" }
learning_rate = { flag = "--lr", type = "float", default = 0.1, range = [0.01, 1.0], distribution = "log_uniform" }
[workloads."fake/cnn".metrics]
required = ["acc"]
'''


def fake_sessions(directory: Path, seed: int = 3) -> list[Replay]:
    """Three recorded sessions of a 20-experiment plan; the last one on a machine 1.6x slower."""
    plan_path = directory / "fake_plan.toml"
    plan_path.write_text('name = "fake"\nseed = %d\n[timing]\nidle_baseline_s = 1\n[timing.cooldown]\nmin_s = 2\n'
                         '[[experiments]]\nworkload = "fake/cnn"\ninclude_default = true\n'
                         'mutate = { parameters = ["epochs", "batch_size", "learning_rate"], strategy = "joint", mutations = 19 }\n%s'
                         % (seed, FAKE_WORKLOAD))
    loaded = load_plan(plan_path, Registry.builtin())
    rng = random.Random(seed)
    history: list[ExperimentRecord] = []
    out = []
    for s, speed in enumerate((1.0, 1.0, 1.6)):
        wall = 1_000_000.0 * (s + 1)
        start = wall
        records = []
        for pe in expand(loaded).experiments:
            hp = pe.foreground.typed()
            train = speed * (3.0 + 6.0 * float(hp["epochs"]) * (64 / float(hp["batch_size"])) ** 0.6) \
                * math.exp(rng.gauss(0, 0.05))
            began, wall = wall, wall + train + 3.0
            records.append(ExperimentRecord(
                experiment_id=f"f{s}-{pe.slot}", session_id=f"fake-{s}", slot=pe.slot, label=pe.label,
                workload=pe.workload.name, mode=pe.mode, status="succeeded", key=pe.key, key_hash=pe.key_hash,
                hyperparameters=hp, started_wall=began, ended_wall=wall, duration_s=train))
        result = replay(loaded, f"fake-{s}", start, records, history, 0.2)
        if result is not None and s > 0:
            out.append(result)
        history += records
    return out


def table(rows: list[Replay], at: float) -> str:
    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:+.1f} %"

    def dur(x: float | None) -> str:
        return "—" if x is None else f"{x:.0f} s"

    lines = [f"ETA after {at:.0%} of each session (error = (ETA − actual) / actual)", "",
             "| session | plan | experiments (seen) | history runs | actual rest | ETA [90 % range] | error | "
             "in range | old: median × left | declared only |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cut = f" of {r.experiments + r.cut_short} planned" if r.cut_short else ""
        lines.append(f"| {r.session} | {r.plan} | {r.experiments}{cut} ({r.observed}) | {r.history_runs} | "
                     f"{dur(r.actual_s)} | {dur(r.eta_s)} [{dur(r.eta_low_s)}–{dur(r.eta_high_s)}] | "
                     f"{pct(r.error_pct)} | {'yes' if r.in_range else 'no'} | {pct(r.median_error_pct)} | "
                     f"{pct(r.declared_error_pct)} |")
    errs = [abs(r.error_pct) for r in rows if r.error_pct is not None]
    if errs:
        lines += ["", f"largest |error| {max(errs):.1f} %, mean |error| {statistics.fmean(errs):.1f} % "
                      f"over {len(errs)} session(s); target ≤ 25 %: {'met' if max(errs) <= 25 else 'NOT met'}; "
                      f"actual inside the 90 % range: {sum(bool(r.in_range) for r in rows)} of {len(rows)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="where the JSON and markdown go")
    ap.add_argument("--at", type=float, default=0.2, help="fraction of each session finished (0.2)")
    ap.add_argument("--results", type=Path, help="a results directory to replay")
    ap.add_argument("--session", action="append", help="only these sessions (repeatable)")
    ap.add_argument("--run", type=Path, help="a plan to run --sessions times first (into --results or DIR/results)")
    ap.add_argument("--sessions", type=int, default=2, help="runs of --run's plan (2)")
    ap.add_argument("--fake", action="store_true", help="synthetic histories, seconds, no training")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.fake:
        with tempfile.TemporaryDirectory() as tmp:
            rows = fake_sessions(Path(tmp))
    else:
        results = args.results or args.out / "results"
        if args.run is not None:
            run_plan_times(args.run, args.sessions, results)
        rows = replay_results(results, args.session, args.at)
    text = table(rows, args.at)
    (args.out / "eta_accuracy.json").write_text(json.dumps({"at": args.at, "sessions": [asdict(r) for r in rows]},
                                                           indent=2))
    (args.out / "eta_accuracy.md").write_text(text + "\n")
    print(text)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
