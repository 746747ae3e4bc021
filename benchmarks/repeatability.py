#!/usr/bin/env python3
"""Repeatability of the whole window's energy against the training phase's (issue 24).

Runs one hyperwatt session (the real engine, sensors and records) of repeated settings of built-in
workloads, sequential and parallel, then reports per setting the coefficient of variation (CV) of
the window's GPU energy and of the training phase's (from the trainings' phase markers), side by
side, with the duration's. It also checks whether a 10 % change of training energy, examples/mnist
at 10 against 11 epochs, is detected with two runs each (Welch's t-test, p < 0.05, the right
direction) by each quantity.

GPU (about 8 minutes on one H200; `--quick` leaves out densenet121, about 6):
    PYTHONPATH=src python3 benchmarks/repeatability.py --out DIR [--gpu 0] [--quick]
CPU smoke test (a scripted fake GPU at constant power and a toy training whose start-up varies a
lot and whose epochs hardly at all; about 1 minute):
    PYTHONPATH=src python3 benchmarks/repeatability.py --fake --out DIR
Writes DIR/repeatability.json and DIR/repeatability.md (also printed); the session's results
(records, logs, timelines) stay in DIR/results.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from statistics import fmean, stdev
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hyperwatt.analysis.quantities import (  # noqa: E402
    DURATION, GPU_ENERGY, TRAIN_DURATION, TRAIN_GPU_ENERGY, Quantity, measure,
)
from hyperwatt.config import Registry, load_plan  # noqa: E402
from hyperwatt.engine import SessionOptions, run_plan  # noqa: E402
from hyperwatt.records import ExperimentRecord  # noqa: E402


@dataclass(frozen=True)
class Entry:
    workload: str
    mode: str
    hyperparameters: dict[str, Any]
    repeats: int
    background: str | None = None


#: The issue's table: the same setting repeated (size small, everything else equal).
SUITE = [
    Entry("examples/mnist", "sequential", {"epochs": 3}, 5),
    Entry("pytorch_resnet_cifar10/resnet20", "sequential", {"epochs": 2}, 4),
    Entry("Person_reID/densenet121", "sequential", {"epochs": 1}, 3),
    Entry("examples/mnist_rnn", "parallel", {"epochs": 3}, 3, background="Person_reID/hrnet18"),
]
#: A hyperparameter change of about 10 % of the training energy, two runs each.
DETECT = ("examples/mnist", "epochs", 10, 11, 2)
TIMING = """
[timing]
idle_baseline_s = {idle}
retries = 0
[timing.cooldown]
min_s = {cool_min}
max_s = {cool_max}
[parallel]
background_alone_s = 3
ready_samples = 10
"""

# --- the CPU smoke test -------------------------------------------------------------------------
FAKE_TRAIN = r'''
import argparse, random, time
from hyperwatt.metricsfile import emit, phase
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
rng = random.Random()
time.sleep(rng.uniform(0.2, 1.2))            # start-up: interpreter, data, CUDA: varies a lot
for epoch in range(1, a.epochs + 1):
    phase("train", epoch=epoch, samples=1000)
    time.sleep(0.12 * rng.uniform(0.995, 1.005))  # an epoch: repeats to about 0.5 %
phase("evaluation")
time.sleep(0.1)
emit(test_accuracy=0.9)
phase("teardown")
time.sleep(rng.uniform(0.0, 0.3))
'''
FAKE_SUITE = [Entry("fake/train", "sequential", {"epochs": 3}, 4)]
FAKE_DETECT = ("fake/train", "epochs", 10, 11, 2)
FAKE_POWER_W = 150.0
FAKE = -1  # plan_text's `gpu` for the smoke test


def _fake_workload(out: Path) -> str:
    script = out / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    return f'''
[workloads."fake/train"]
argv = ["{{python}}", "{script}"]
env = {{ PYTHONPATH = "{ROOT / 'src'}" }}
[workloads."fake/train".hyperparameters]
epochs = {{ flag = "--epochs", type = "int", default = 3, range = [1, 20] }}
[workloads."fake/train".metrics]
required = ["test_accuracy"]
'''


# --- the session --------------------------------------------------------------------------------
def plan_text(suite: list[Entry], detect: tuple[str, str, int, int, int] | None, extra: str, gpu: int | None) -> str:
    timing = TIMING.format(idle=2, cool_min=1, cool_max=10) if gpu != FAKE else TIMING.format(idle=0.3, cool_min=0,
                                                                                             cool_max=0)
    lines = ['name = "repeatability"', "seed = 24", timing, extra]
    if gpu is not None and gpu != FAKE:
        lines.append(f"[sensors]\ngpus = [{gpu}]\n")

    def entry(workload: str, mode: str, hps: dict[str, Any], repeats: int, background: str | None) -> str:
        fixed = ", ".join(f"{k} = {json.dumps(v)}" for k, v in hps.items())
        text = (f'[[experiments]]\nworkload = "{workload}"\nmode = "{mode}"\ninclude_default = false\n'
                f"repeats = {repeats}\nhyperparameters = {{ {fixed} }}\n")
        if background:
            text += f'background = {{ workload = "{background}" }}\n'
        return text

    if detect is not None:
        workload, name, low, high, n = detect
        for value in (low, high):  # first: cut short at a deadline, the session still answers the detection
            lines.append(entry(workload, "sequential", {name: value}, n, None))
    for e in suite:
        lines.append(entry(e.workload, e.mode, e.hyperparameters, e.repeats, e.background))
    return "\n".join(lines)


def cv(values: list[float]) -> float | None:
    return stdev(values) / fmean(values) if len(values) >= 2 and fmean(values) > 0 else None


def _values(runs: list[ExperimentRecord], q: Quantity) -> list[float]:
    return [v for r in runs if (v := measure(r, q)[0]) is not None]


@dataclass
class SettingRow:
    workload: str
    mode: str
    setting: str
    n: int
    window_gpu_j: float | None
    train_gpu_j: float | None
    cv_window: float | None
    cv_train: float | None
    cv_duration: float | None
    cv_train_duration: float | None
    train_share: float | None  # training phase / window, GPU energy


def settings_table(records: list[ExperimentRecord]) -> list[SettingRow]:
    groups: dict[tuple[str, str, str], list[ExperimentRecord]] = {}
    for r in records:
        if r.valid:
            groups.setdefault((r.workload, r.mode, r.key_hash), []).append(r)
    rows = []
    for (workload, mode, _), runs in groups.items():
        window, train = _values(runs, GPU_ENERGY), _values(runs, TRAIN_GPU_ENERGY)
        hps = {k: v for k, v in runs[0].hyperparameters.items() if k in ("epochs",)}
        rows.append(SettingRow(
            workload=workload, mode=mode, setting=", ".join(f"{k}={v}" for k, v in hps.items()), n=len(runs),
            window_gpu_j=fmean(window) if window else None, train_gpu_j=fmean(train) if train else None,
            cv_window=cv(window), cv_train=cv(train), cv_duration=cv(_values(runs, DURATION)),
            cv_train_duration=cv(_values(runs, TRAIN_DURATION)),
            train_share=fmean(train) / fmean(window) if train and window and len(train) == len(window) else None,
        ))
    return rows


def runs_table(records: list[ExperimentRecord]) -> list[dict[str, Any]]:
    """Every run in the order it ran: its energies, durations and the GPU temperature at its idle
    baseline (a run that starts warmer draws more for the same work), so a spread can be traced."""
    rows = []
    for r in sorted(records, key=lambda r: r.started_wall or 0.0):
        base = next((b for b in r.energy.idle_baseline.values() if b.get("temp_c") is not None), None)
        rows.append({"experiment": r.experiment_id, "workload": r.workload, "mode": r.mode,
                     "setting": ", ".join(f"{k}={v}" for k, v in r.hyperparameters.items() if k == "epochs"),
                     "valid": r.valid, "window_gpu_j": measure(r, GPU_ENERGY)[0],
                     "train_gpu_j": measure(r, TRAIN_GPU_ENERGY)[0], "duration_s": measure(r, DURATION)[0],
                     "train_s": measure(r, TRAIN_DURATION)[0], "start_temp_c": base["temp_c"] if base else None})
    return rows


def detection(records: list[ExperimentRecord], detect: tuple[str, str, int, int, int]) -> dict[str, Any]:
    """Welch's t-test of the high setting against the low one, for each quantity."""
    from scipy import stats

    workload, name, low, high, _ = detect
    runs = {v: [r for r in records if r.valid and r.workload == workload and r.mode == "sequential"
                and r.hyperparameters.get(name) == v] for v in (low, high)}
    out: dict[str, Any] = {"workload": workload, "parameter": name, "low": low, "high": high,
                           "n": {str(v): len(rs) for v, rs in runs.items()}}
    for q in (GPU_ENERGY, TRAIN_GPU_ENERGY):
        a, b = _values(runs[low], q), _values(runs[high], q)
        if len(a) < 2 or len(b) < 2:
            out[q.key] = {"detected": None, "reason": "fewer than two runs of each setting measured it"}
            continue
        test = stats.ttest_ind(b, a, equal_var=False)
        p = float(test.pvalue) if math.isfinite(test.pvalue) else 1.0
        out[q.key] = {"label": q.label, "low_j": a, "high_j": b, "change": fmean(b) / fmean(a) - 1.0,
                      "p": p, "detected": p < 0.05 and fmean(b) > fmean(a)}
    return out


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None, unit: str, fmt: str = ".0f") -> str:
    return "—" if x is None else f"{x:{fmt}} {unit}"


def markdown(result: dict[str, Any]) -> str:
    lines = [f"Device: {result['device']}" + (" (fake GPU: constant power, toy training)" if result["fake"] else ""),
             "", "| workload | mode | setting | runs | window GPU energy | CV window | training-phase GPU energy "
             "| CV training phase | CV duration | CV training duration | training share |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in result["settings"]:
        w = "—" if row["window_gpu_j"] is None else f"{row['window_gpu_j']:.0f} J"
        t = "—" if row["train_gpu_j"] is None else f"{row['train_gpu_j']:.0f} J"
        lines.append(f"| {row['workload']} | {row['mode']} | {row['setting']} | {row['n']} | {w} | "
                     f"{_pct(row['cv_window'])} | {t} | {_pct(row['cv_train'])} | {_pct(row['cv_duration'])} | "
                     f"{_pct(row['cv_train_duration'])} | {_pct(row['train_share'])} |")
    lines += ["", "| run | workload | setting | window GPU energy | training-phase GPU energy | training time "
              "| GPU temperature at its idle baseline |", "|---|---|---|---|---|---|---|"]
    for i, run in enumerate(result.get("runs", []), 1):
        lines.append(f"| {i} | {run['workload']} ({run['mode']}) | {run['setting']} | {_num(run['window_gpu_j'], 'J')} "
                     f"| {_num(run['train_gpu_j'], 'J', '.1f')} | {_num(run['train_s'], 's', '.2f')} "
                     f"| {_num(run['start_temp_c'], '°C')} |")
    d = result["detection"]
    if d is None:
        return "\n".join(lines)
    lines += ["", f"{d['workload']}: {d['parameter']} {d['low']} → {d['high']}, "
              f"{d['n'][str(d['low'])]} + {d['n'][str(d['high'])]} runs (Welch's t-test, detected: p < 0.05 upwards)",
              "", "| quantity | change | p | detected |", "|---|---|---|---|"]
    for key in (GPU_ENERGY.key, TRAIN_GPU_ENERGY.key):
        x = d.get(key, {})
        if x.get("detected") is None:
            lines.append(f"| {key} | — | — | {x.get('reason', '—')} |")
        else:
            lines.append(f"| {x['label']} | {_pct(x['change'])} | {x['p']:.3g} | {'yes' if x['detected'] else 'no'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gpu", type=int, default=None, help="the GPU to measure on (default: every visible)")
    parser.add_argument("--quick", action="store_true", help="leave out Person_reID/densenet121")
    parser.add_argument("--fake", action="store_true", help="CPU smoke test: fake GPU, toy training")
    parser.add_argument("--no-detect", action="store_true", help="leave out the epochs 10 -> 11 detection runs")
    parser.add_argument("--repeats", type=int, default=None, help="runs per setting (default: the suite's)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    factory = None
    if args.fake:
        from hyperwatt.sensors import SensorSet
        from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor

        sensors = SensorSet(sensors=[FakeGpuSensor(FakeGpu(power=FAKE_POWER_W), index=0)])
        factory = lambda plan: sensors  # noqa: E731
        suite, detect, extra = FAKE_SUITE, FAKE_DETECT, _fake_workload(args.out)
    else:
        suite = [e for e in SUITE if not (args.quick and e.workload == "Person_reID/densenet121")]
        detect, extra = DETECT, ""
    if args.repeats:
        suite = [replace(e, repeats=args.repeats) for e in suite]
    plan = args.out / "repeatability.toml"
    plan.write_text(plan_text(suite, None if args.no_detect else detect, extra, FAKE if args.fake else args.gpu))
    session = run_plan(load_plan(plan, Registry.builtin()),
                       SessionOptions(results_dir=args.out / "results", sensors_factory=factory, rerun=True))
    records = session.records
    devices = sorted({s.device for r in records for s in r.energy.sensors if s.domain == "gpu" and s.device})
    result = {
        "fake": args.fake, "device": ", ".join(devices) or "no GPU sensor", "session": session.session_id,
        "invalid": [f"{r.experiment_id}: {r.status} {r.status_reason}" for r in records if not r.valid],
        "settings": [asdict(row) for row in settings_table(records)],
        "runs": runs_table(records),
        "detection": None if args.no_detect else detection(records, detect),
    }
    (args.out / "repeatability.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (args.out / "repeatability.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
