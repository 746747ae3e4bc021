#!/usr/bin/env python3
"""Co-location attribution against ground truth: how far each rule lands from energies measured
with each training alone (issue 18 point 5, issue 21).

For each (foreground, background) pair of built-in workloads, on one GPU, with hyperwatt's own
sampler (`Monitor`, counter-locked windows) and its own rules (`hyperwatt.attribution`):

0. each workload's `prepare` step (its data set, built once, unmeasured);
1. idle power (`--idle-s`);
2. the foreground **alone**: its energy E_fg and duration (the truth it would cost by itself);
3. the background alone: started, given until it loads the GPU, then measured alone for
   `--alone-s` (the engine's `parallel.background_alone_s`: its power P_before and spread);
4. **both**: the foreground runs while the background keeps running: device energy E_both over
   the foreground's window, per-process utilisation share;
5. the background alone again for `--after-s` (P_after), then stopped.

Rules, each the foreground's energy: device (E_both); marginal as the engine records it
(E_both − P_before × window, with its bound and verdict); marginal over bracketing alone windows
(E_both − mean(P_before, P_after) × window, a candidate); utilisation share (E_both × share).
Truths: the foreground alone, in total (E_fg) and above idle (E_fg − P_idle × its duration). The
marginal includes no idle power (the background alone draws it), so it answers the second.

GPU (about 5 minutes for the 3 default pairs on an H200):
    PYTHONPATH=src python3 benchmarks/attribution.py --out DIR [--gpu 0] [--pairs 3]
CPU smoke test (a scripted fake GPU, sleeping processes, about 30 s):
    PYTHONPATH=src python3 benchmarks/attribution.py --fake --out DIR
Writes DIR/attribution.json and DIR/attribution.md (also printed).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hyperwatt import attribution as rules  # noqa: E402
from hyperwatt.sensors import Monitor, SensorSet  # noqa: E402

#: (foreground, background): the report's fixed pair, the issue's drifting background, a heavy one.
PAIRS = [
    ("examples/mnist_ff", "pytorch_resnet_cifar10/resnet20"),
    ("examples/mnist_rnn", "Person_reID/hrnet18"),
    ("examples/mnist", "Person_reID/densenet121"),
    ("VulBERTa/mlp", "VulBERTa/cnn"),
]


@dataclass
class PairResult:
    foreground: str
    background: str
    idle_w: float
    fg_alone_j: float
    fg_alone_unc_j: float | None
    fg_alone_s: float
    both_j: float
    both_unc_j: float | None
    both_s: float
    alone_before_w: float
    alone_before_unc_w: float | None
    alone_after_w: float | None
    spread_w: float | None
    util_share: float | None
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)


# --- how a run is started and watched: real workloads on a GPU, or sleeping processes on a fake ---
class Runner:
    """Starts trainings and tells the GPU (real or fake) what runs."""

    def __init__(self, gpu: int, size: str, fake: bool) -> None:
        self.gpu, self.size, self.fake = gpu, size, fake
        self.env = {**os.environ, "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": str(gpu),
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
        self.state: FakeState | None = None
        self.fake_gpu: Any = None

    def argv(self, workload: str, epochs: int, fake_s: float) -> list[str]:
        if self.fake:
            return [sys.executable, "-c", f"import time; time.sleep({fake_s})"]
        from hyperwatt.config.registry import Registry

        w = Registry.builtin().get(workload)
        argv = [a.format_map({"python": sys.executable}) for a in w.argv]
        return argv + ["--size", self.size, "--epochs", str(epochs)]

    def prepare(self, workload: str) -> None:
        """The workload's data built once before anything is measured, as a session's prepare step does."""
        if self.fake:
            return
        from hyperwatt.config.registry import Registry

        spec = Registry.builtin().get(workload).prepare
        if spec is None:
            return
        argv = [a.format_map({"python": sys.executable}) for a in spec.argv] + ["--size", self.size]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            raise SystemExit(f"prepare of {workload} failed ({done.returncode}): {done.stderr.strip()[-300:]}")

    def start(self, argv: list[str], role: str) -> subprocess.Popen:
        if self.state is not None:  # the fake draws from the moment the start is asked (as the caller's t0),
            self.state.set(role, True)  # not after a fork that a busy machine can make take 100 ms
        proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        if self.fake_gpu is not None:  # the driver's per-process samples, scripted
            self.fake_gpu.process_util[proc.pid] = 25.0 if role == "fg" else 75.0
        return proc

    def ended(self, role: str) -> None:
        if self.state is not None:
            self.state.set(role, False)

    def stop(self, proc: subprocess.Popen, role: str) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.ended(role)


class FakeState:
    """The fake GPU's power as a step function of what runs: idle, a background whose power has
    phases, a foreground, and the two time-sliced (the foreground adds less while sharing)."""

    IDLE_W, BG_W, FG_W, SHARED_FG = 70.0, 300.0, 150.0, 0.6

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = [(time.monotonic() - 1.0, self.IDLE_W)]
        self.running = {"fg": False, "bg": False}
        self.bg_since = 0.0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True)
        self.thread.start()

    def set(self, role: str, on: bool) -> None:
        with self.lock:
            if role == "bg" and on:
                self.bg_since = time.monotonic()
            self.running[role] = on
            self._append()

    def _watts(self, t: float) -> float:
        w = self.IDLE_W
        if self.running["bg"]:
            w += self.BG_W + (20.0 if int((t - self.bg_since) / 1.0) % 2 else -20.0)  # 1-s phases
        if self.running["fg"]:
            w += self.FG_W * (self.SHARED_FG if self.running["bg"] else 1.0)
        return w

    def _append(self) -> None:
        t = time.monotonic()
        w = self._watts(t)
        if w != self.points[-1][1]:
            self.points.append((t, w))

    def _tick(self) -> None:
        while not self._stop.wait(0.01):
            with self.lock:
                self._append()

    def close(self) -> None:
        self._stop.set()

    # the PowerCurve protocol (hyperwatt.sensors.fake): exact energy of the recorded steps
    def __call__(self, t: float) -> float:
        with self.lock:
            pts = list(self.points)
        w = pts[0][1]
        for tp, wp in pts:
            if tp > t:
                break
            w = wp
        return w

    def energy_j(self, t_a: float, t_b: float) -> float:
        with self.lock:
            pts = list(self.points)
        total = 0.0
        for i, (tp, wp) in enumerate(pts):
            seg_end = pts[i + 1][0] if i + 1 < len(pts) else max(t_b, tp)
            lo, hi = max(tp, t_a), min(seg_end, t_b)
            if hi > lo:
                total += (hi - lo) * wp
        if t_a < pts[0][0]:
            total += (min(pts[0][0], t_b) - t_a) * pts[0][1]
        return total


# --- measuring ---------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.runner = Runner(args.gpu, args.size, args.fake)
        if args.fake:
            from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor

            self.runner.state = FakeState()
            self.runner.fake_gpu = FakeGpu(power=self.runner.state, util_pct=90.0)
            self.sensors = SensorSet(sensors=[FakeGpuSensor(self.runner.fake_gpu, index=0)])
        else:
            from hyperwatt.sensors import discover

            self.sensors = discover(gpu_indices=[args.gpu], cpu=False)
        gpus = self.sensors.gpus()
        if not gpus:
            raise SystemExit(f"no GPU sensor for GPU {args.gpu}: {self.sensors.unavailable}")
        self.gpu = gpus[0]
        self.name = self.gpu.name
        self.device = self.gpu.info.device
        self.monitor = Monitor(self.sensors, rate_hz=20.0, lock_interval_s=10.0)

    def energy(self, t0: float, t1: float) -> tuple[float, float | None]:
        est = self.monitor.measure(t0, t1)[self.name]
        if est.energy_j is None:
            raise SystemExit(f"no energy for [{t0:.1f}, {t1:.1f}]: {est.reason}")
        return est.energy_j, est.uncertainty_j

    def window(self, seconds: float) -> tuple[float, float]:
        self.monitor.sample_now()
        t0 = time.monotonic()
        time.sleep(seconds)
        t1 = time.monotonic()
        self.monitor.sample_now()
        return t0, t1

    def run_alone(self, argv: list[str], role: str) -> tuple[float, float]:
        self.monitor.sample_now()
        t0 = time.monotonic()
        proc = self.runner.start(argv, role)
        while proc.poll() is None:
            time.sleep(0.05)
        t1 = time.monotonic()
        self.runner.ended(role)
        self.monitor.sample_now()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
        return t0, t1

    def wait_loading(self, proc: subprocess.Popen) -> float:
        """Until the GPU stays busy (utilisation >= 30 % for 2 s), as the readiness gate does."""
        start = time.monotonic()
        streak = 0
        while time.monotonic() - start < self.args.ready_timeout_s:
            if proc.poll() is not None:
                raise SystemExit(f"the background exited early (code {proc.returncode})")
            sample = self.monitor.latest(self.name)
            streak = streak + 1 if sample is not None and (sample.util_pct or 0.0) >= 30.0 else 0
            if streak >= 20:
                return time.monotonic() - start
            time.sleep(0.1)
        raise SystemExit(f"the background did not load the GPU within {self.args.ready_timeout_s:g} s")

    def pair(self, fg: str, bg: str) -> PairResult:
        a = self.args
        fake_fg = a.fake_fg_s
        for workload in (fg, bg):
            self.runner.prepare(workload)
        t0, t1 = self.window(a.idle_s)
        idle_j, _ = self.energy(t0, t1)
        idle_w = idle_j / (t1 - t0)
        # the foreground alone
        f0, f1 = self.run_alone(self.runner.argv(fg, 1, fake_fg), "fg")
        fg_j, fg_unc = self.energy(f0, f1)
        time.sleep(a.settle_s)
        # the background alone, then both, then the background alone again
        bg_proc = self.runner.start(self.runner.argv(bg, 100, 3600), "bg")
        try:
            self.wait_loading(bg_proc)
            b0, b1 = self.window(a.alone_s)
            before_j, before_unc = self.energy(b0, b1)
            before_w, before_unc_w = rules.alone_power(before_j, before_unc, b1 - b0)
            alone_samples = [(s.t_mono, s.power_w) for s in self.monitor.samples(self.name, b0, b1)
                             if s.power_w is not None]
            self.monitor.sample_now()
            c0, since = time.monotonic(), time.time()
            fg_proc = self.runner.start(self.runner.argv(fg, 1, fake_fg * 1.5), "fg")
            fg_util: list[float] = []
            bg_util: list[float] = []
            seen: set[tuple[int, float]] = set()
            while fg_proc.poll() is None:
                time.sleep(0.05)
                self._util(since, fg_proc.pid, bg_proc.pid, fg_util, bg_util, seen)
            c1 = time.monotonic()
            self.runner.ended("fg")
            self.monitor.sample_now()
            both_j, both_unc = self.energy(c0, c1)
            a0, a1 = self.window(a.after_s)
            after_j, _ = self.energy(a0, a1)
            after_w = after_j / (a1 - a0)
        finally:
            self.runner.stop(bg_proc, "bg")
        time.sleep(a.settle_s)
        both_s = c1 - c0
        spread = rules.power_spread_w(alone_samples, min(both_s, (b1 - b0) / 2))
        share = sum(fg_util) / (sum(fg_util) + sum(bg_util)) if fg_util and bg_util and sum(fg_util + bg_util) else None
        res = PairResult(fg, bg, idle_w, fg_j, fg_unc, f1 - f0, both_j, both_unc, both_s, before_w, before_unc_w,
                         after_w, spread, share)
        res.rules = evaluate(res)
        return res

    def _util(self, since: float, fg_pid: int, bg_pid: int, fg: list[float], bg: list[float],
              seen: set[tuple[int, float]]) -> None:
        """NVML's per-process samples, attributed by process group (each training leads its own)."""
        for s in self.gpu.process_samples(since):
            if (s.pid, s.t_wall) in seen:
                continue
            seen.add((s.pid, s.t_wall))
            try:
                group = os.getpgid(s.pid)
            except ProcessLookupError:
                continue
            (fg if group == fg_pid else bg if group == bg_pid else []).append(s.sm_util_pct)


def evaluate(r: PairResult) -> dict[str, dict[str, Any]]:
    """Each rule's foreground energy, bound and verdict, and its error against both truths."""
    truth_total = r.fg_alone_j
    truth_dynamic = r.fg_alone_j - r.idle_w * r.fg_alone_s
    out: dict[str, dict[str, Any]] = {}
    marginal, bound = rules.marginal(r.both_j, r.both_unc_j, r.both_s, r.alone_before_w, r.alone_before_unc_w,
                                     r.spread_w)
    candidates: dict[str, tuple[float | None, float | None]] = {
        "device": (r.both_j, r.both_unc_j),
        "marginal (engine: alone before)": (marginal, bound),
        "marginal (alone before and after)": (
            None if r.alone_after_w is None else r.both_j - (r.alone_before_w + r.alone_after_w) / 2 * r.both_s, None),
        "utilisation share": (None if r.util_share is None else rules.util_share_energy(r.both_j, r.util_share), None),
    }
    for name, (value, unc) in candidates.items():
        row: dict[str, Any] = {"energy_j": value, "bound_j": unc}
        if value is not None:
            row["error_vs_alone_pct"] = 100.0 * (value - truth_total) / truth_total
            row["error_vs_alone_above_idle_pct"] = 100.0 * (value - truth_dynamic) / truth_dynamic
            if name.startswith("marginal (engine"):
                row["verdict"] = rules.marginal_verdict(value, unc, r.both_j, r.both_unc_j)
                row["truth_above_idle_within_bound"] = unc is not None and abs(value - truth_dynamic) <= unc
        out[name] = row
    return out


def _f(x: Any, fmt: str = ".0f") -> str:
    return "—" if x is None else format(x, fmt)


def _pct(x: float | None, fmt: str = "+.1f") -> str:
    return "—" if x is None else f"{x:{fmt}} %"


def markdown(results: list[PairResult], device: str, args: argparse.Namespace, took_s: float) -> str:
    lines = [
        f"Attribution against the foreground measured alone, {len(results)} pair(s) on {device}"
        f"{' (fake GPU)' if args.fake else ''}; background alone {args.alone_s:g} s before (the engine's "
        f"window) and {args.after_s:g} s after; {took_s:.0f} s wall.",
        "",
        "| foreground ‖ background | alone: fg energy (above idle), duration | both: device energy, window | "
        "background alone before / after | spread | util share |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.foreground} ‖ {r.background} | {r.fg_alone_j:.0f} J ({r.fg_alone_j - r.idle_w * r.fg_alone_s:.0f} J), "
            f"{r.fg_alone_s:.1f} s | {r.both_j:.0f} ± {_f(r.both_unc_j, '.1f')} J, {r.both_s:.1f} s | "
            f"{r.alone_before_w:.1f} / {_f(r.alone_after_w, '.1f')} W | ±{_f(r.spread_w, '.1f')} W | "
            f"{_pct(None if r.util_share is None else 100 * r.util_share, '.0f')} |")
    lines += ["", "| foreground ‖ background | rule | foreground energy | error vs alone | error vs alone above idle "
              "| verdict |", "|---|---|---|---|---|---|"]
    for r in results:
        for name, row in r.rules.items():
            value = row["energy_j"]
            shown = "—" if value is None else (f"{value:.0f} ± {row['bound_j']:.0f} J" if row["bound_j"] is not None
                                               else f"{value:.0f} J")
            verdict = row.get("verdict") or ""
            if "truth_above_idle_within_bound" in row:
                verdict += f"; truth {'inside' if row['truth_above_idle_within_bound'] else 'OUTSIDE'} the bound"
            lines.append(f"| {r.foreground} ‖ {r.background} | {name} | {shown} | "
                         f"{_pct(row.get('error_vs_alone_pct'))} | "
                         f"{_pct(row.get('error_vs_alone_above_idle_pct'))} | {verdict or '—'} |")
    lines += ["", "| rule | mean abs error vs alone | mean abs error vs alone above idle | pairs |", "|---|---|---|---|"]
    names = list(results[0].rules) if results else []
    for name in names:
        errs = [r.rules[name] for r in results if r.rules[name]["energy_j"] is not None]
        if not errs:
            lines.append(f"| {name} | — | — | 0 |")
            continue
        e1 = fmean(abs(e["error_vs_alone_pct"]) for e in errs)
        e2 = fmean(abs(e["error_vs_alone_above_idle_pct"]) for e in errs)
        lines.append(f"| {name} | {e1:.1f} % | {e2:.1f} % | {len(errs)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--pairs", type=int, default=3, help=f"how many of the {len(PAIRS)} pairs, in order")
    ap.add_argument("--size", default="small")
    ap.add_argument("--idle-s", type=float, default=3.0)
    ap.add_argument("--alone-s", type=float, default=10.0, help="the engine's parallel.background_alone_s")
    ap.add_argument("--after-s", type=float, default=10.0)
    ap.add_argument("--settle-s", type=float, default=5.0, help="pause between phases")
    ap.add_argument("--ready-timeout-s", type=float, default=120.0)
    ap.add_argument("--fake", action="store_true", help="a scripted fake GPU and sleeping processes (CPU smoke test)")
    ap.add_argument("--fake-fg-s", type=float, default=2.0, help="--fake: the foreground's duration alone")
    args = ap.parse_args()
    if args.fake:
        args.idle_s, args.alone_s, args.after_s, args.settle_s = min(args.idle_s, 1.0), min(args.alone_s, 2.0), \
            min(args.after_s, 1.0), min(args.settle_s, 0.3)
    args.out.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    bench.monitor.start()
    started = time.monotonic()
    results = []
    try:
        for fg, bg in PAIRS[: args.pairs]:
            print(f"== {fg} || {bg}", flush=True)
            results.append(bench.pair(fg, bg))
    finally:
        bench.monitor.stop()
        bench.sensors.close()
        if bench.runner.state is not None:
            bench.runner.state.close()
    took = time.monotonic() - started
    text = markdown(results, bench.device, args, took)
    (args.out / "attribution.json").write_text(json.dumps(
        {"device": bench.device, "fake": args.fake, "alone_s": args.alone_s, "after_s": args.after_s,
         "wall_s": took, "pairs": [asdict(r) for r in results]}, indent=1))
    (args.out / "attribution.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
