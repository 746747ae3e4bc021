#!/usr/bin/env python3
"""How accurate is a window's GPU energy? Three methods against an idle-padded counter reference.

On matmul bursts of 2 s, 5 s and 30 s and a 250 ms on / 250 ms off pattern (10 s), each repeated,
compare (a) the seed's method: 1 Hz `nvidia-smi --query-gpu=power.draw` samples summed (x 1 s),
(b) NVML's energy counter read once at each window edge, (c) hyperwatt's `Monitor.measure`.
Reference: the counter between two precisely located counter steps >= `--pad` s of idle before and
after the window, minus the idle power (measured just before, from the counter) x that padding.

GPU:  PYTHONPATH=src python3 benchmarks/energy_accuracy.py --out DIR [--gpu 0] [--repeats 3]
CPU:  PYTHONPATH=src python3 benchmarks/energy_accuracy.py --fake --out DIR   (simulated GPU)

The load runs in a worker subprocess, as trainings do under hyperwatt. Writes
DIR/energy_accuracy.json and DIR/energy_accuracy.md and prints the table last.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hyperwatt.clock import FakeClock  # noqa: E402
from hyperwatt.config.plan import SensorSettings  # noqa: E402
from hyperwatt.sensors import Monitor, SensorSet, discover  # noqa: E402
from hyperwatt.sensors.fake import FakeGpu, FakeGpuSensor, PiecewiseLinear  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "burst" | "onoff"
    duration_s: float
    target_pct: float  # |error| target for hyperwatt's method
    on_s: float = 0.25
    off_s: float = 0.25


CASES = [
    Case("burst-2s", "burst", 2.0, 1.5),
    Case("burst-5s", "burst", 5.0, 0.5),
    Case("burst-30s", "burst", 30.0, 0.5),
    Case("onoff-250ms-10s", "onoff", 10.0, 1.0),
]
METHODS = ("seed_nvidia_smi_1hz", "counter_at_edges", "hyperwatt")


@dataclass
class Trial:
    case: str
    repeat: int
    duration_s: float
    reference_j: float
    reference_bound_j: float
    idle_power_w: float
    post_idle_power_w: float | None  # counter over the pad after the window, from 0.5 s on
    seed_nvidia_smi_1hz_j: float | None
    counter_at_edges_j: float
    hyperwatt_j: float | None
    hyperwatt_bound_j: float | None
    hyperwatt_method: str
    hyperwatt_samples: int
    true_j: float | None = None  # the simulated GPU's exact energy (--fake only)
    errors_pct: dict[str, float | None] = field(default_factory=dict)


# --- the worker: the GPU load, in its own process ------------------------------------------------
def worker(dtype_name: str) -> None:
    """Read commands on stdin ("burst S" | "onoff S ON OFF" | "quit"); answer "done T0 T1"."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    torch.backends.cuda.matmul.allow_tf32 = False
    n = 8192 if dtype is torch.bfloat16 else 4096
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    c = torch.empty_like(a)

    def busy(until: float) -> None:
        while time.monotonic() < until:
            for _ in range(4):
                torch.matmul(a, b, out=c)
            torch.cuda.synchronize()

    busy(time.monotonic() + 2.0)  # warm-up: cuBLAS, clocks
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        t0 = time.monotonic()
        if cmd[0] == "burst":
            busy(t0 + float(cmd[1]))
        else:
            total, on, off = map(float, cmd[1:4])
            k = 0
            while t0 + k * (on + off) < t0 + total - 1e-9:
                start = t0 + k * (on + off)
                busy(min(start + on, t0 + total))
                rest = start + on + off - time.monotonic()
                if rest > 0 and start + on + off < t0 + total:
                    time.sleep(rest)
                k += 1
        print(f"done {t0!r} {time.monotonic()!r}", flush=True)


# --- backends ------------------------------------------------------------------------------------
class GpuBackend:
    """A real GPU: the worker subprocess, NVML for reference reads, nvidia-smi at 1 Hz, a Monitor."""

    def __init__(self, gpu: int, dtype: str, rate_hz: float) -> None:
        import pynvml

        self._nvml = pynvml
        pynvml.nvmlInit()
        self._h = pynvml.nvmlDeviceGetHandleByIndex(gpu)
        uuid = pynvml.nvmlDeviceGetUUID(self._h)
        self.device = f"{pynvml.nvmlDeviceGetName(self._h)} (index {gpu}, driver {pynvml.nvmlSystemGetDriverVersion()})"
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": uuid if isinstance(uuid, str) else uuid.decode()}
        self._proc = subprocess.Popen([sys.executable, __file__, "--worker", "--dtype", dtype], env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        if self._proc.stdout is None or self._proc.stdout.readline().strip() != "ready":
            raise SystemExit("the GPU worker did not start (see its stderr above)")
        self.sensors = discover(gpu_indices=[gpu], cpu=False)
        if not self.sensors.gpus():
            raise SystemExit(f"no hyperwatt sensor for GPU {gpu}: {self.sensors.unavailable}")
        # the engine's sampler settings (a plan's [sensors] defaults)
        self.monitor = Monitor(self.sensors, rate_hz=rate_hz, lock_interval_s=SensorSettings().lock_interval_s)
        self.monitor.start()
        self._smi: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._smi_argv = ["nvidia-smi", "--query-gpu=power.draw", "--format=csv,noheader,nounits", "-i", str(gpu)]
        self._smi_thread = threading.Thread(target=self._smi_loop, daemon=True)
        self._smi_thread.start()

    def _smi_loop(self) -> None:
        """The seed's sampler: one nvidia-smi power.draw sample a second (argv, no shell)."""
        start = time.monotonic()
        k = 0
        while not self._stop.is_set():
            t_a = time.monotonic()
            try:
                out = subprocess.run(self._smi_argv, capture_output=True, text=True, timeout=5, check=True).stdout
                self._smi.append(((t_a + time.monotonic()) / 2, float(out.strip().splitlines()[0])))
            except (OSError, subprocess.SubprocessError, ValueError, IndexError):
                pass
            k += 1
            self._stop.wait(max(0.0, start + k - time.monotonic()))

    def now(self) -> float:
        return time.monotonic()

    def counter_j(self) -> float:
        return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._h) / 1000

    def idle(self, seconds: float) -> None:
        time.sleep(seconds)

    def load(self, case: Case) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        cmd = f"burst {case.duration_s}" if case.kind == "burst" else f"onoff {case.duration_s} {case.on_s} {case.off_s}"
        self._proc.stdin.write(cmd + "\n")
        reply = self._proc.stdout.readline().split()
        if not reply or reply[0] != "done":
            raise SystemExit(f"the GPU worker failed during {case.name}")

    def seed_j(self, t0: float, t1: float) -> float | None:
        inside = [w for t, w in list(self._smi) if t0 <= t <= t1]
        return sum(inside) * 1.0 if self._smi else None

    def true_j(self, t0: float, t1: float) -> float | None:
        return None

    def close(self) -> None:
        self._stop.set()
        self.monitor.stop()
        if self._proc.stdin is not None:
            self._proc.stdin.write("quit\n")
            self._proc.stdin.close()
        self._proc.wait(timeout=30)
        self.sensors.close()
        self._nvml.nvmlShutdown()


class _GrowingCurve(PiecewiseLinear):
    """A scripted power curve the fake backend extends as loads are started."""

    def __init__(self, idle_w: float) -> None:
        self.idle_w = idle_w
        self._points = [(0.0, idle_w)]
        super().__init__(self._points)

    def add(self, points: list[tuple[float, float]]) -> None:
        self._points += points
        super().__init__(self._points)


class FakeBackend:
    """A simulated GPU on a fake clock (idle 70 W, 650 W under load with ripple, 100 ms counter
    steps with 1 ms jitter, 3.5 ms counter reads); nvidia-smi's power.draw is the 1-s average."""

    IDLE_W, BUSY_W, RAMP_UP_S, RAMP_DOWN_S = 70.0, 650.0, 0.015, 0.03

    def __init__(self, rate_hz: float) -> None:
        self.clock = FakeClock(start=100.0)
        self.curve = _GrowingCurve(self.IDLE_W)
        self.gpu = FakeGpu(self.curve, clock=self.clock, phase_s=0.0437, update_jitter_s=0.001,
                           counter_read_cost_s=0.0035, name="Simulated GPU")
        self.device = "simulated GPU (hyperwatt.sensors.fake, --fake)"
        self.sensors = SensorSet([FakeGpuSensor(self.gpu)])
        self.monitor = Monitor(self.sensors, rate_hz=rate_hz, clock=self.clock)
        self.monitor.run_for(1.0)

    def now(self) -> float:
        return self.clock.monotonic()

    def counter_j(self) -> float:
        return self.gpu.read_counter()[1] / 1000

    def idle(self, seconds: float) -> None:
        self.monitor.run_for(seconds)

    def load(self, case: Case) -> None:
        t = self.now() + 0.002  # the worker starts a moment after the command
        pulses = [(t, case.duration_s)] if case.kind == "burst" else [
            (t + k * (case.on_s + case.off_s), case.on_s) for k in range(int(case.duration_s / (case.on_s + case.off_s)))]
        points: list[tuple[float, float]] = []
        for start, length in pulses:
            points += [(start, self.IDLE_W), (start + self.RAMP_UP_S, self.BUSY_W)]
            ripple_t = start + self.RAMP_UP_S
            while ripple_t + 0.02 < start + length:  # +/-25 W ripple, finer than the 100 ms updates
                ripple_t += 0.02
                points.append((ripple_t, self.BUSY_W + 25.0 * math.sin(ripple_t * 17.0)))
            points += [(start + length, self.BUSY_W), (start + length + self.RAMP_DOWN_S, self.IDLE_W)]
        self.curve.add(points)
        end = pulses[-1][0] + pulses[-1][1]
        self.monitor.run_for(end - self.now() + 0.003)

    def seed_j(self, t0: float, t1: float) -> float | None:
        first = math.ceil(t0 - 0.61)
        samples = [self.gpu.power_avg_w(k + 0.61) for k in range(first, math.floor(t1) + 1) if t0 <= k + 0.61 <= t1]
        return sum(samples) * 1.0

    def true_j(self, t0: float, t1: float) -> float | None:
        return self.gpu.true_energy_j(t0, t1)

    def close(self) -> None:
        self.sensors.close()


# --- the measurement -----------------------------------------------------------------------------
def locate_step(read: Callable[[], float], now: Callable[[], float], timeout_s: float = 1.0) -> tuple[float, float, float]:
    """Read the counter back to back until it moves: (instant, value after, half-width) of the step."""
    t_a = now()
    prev = read()
    prev_start = t_a
    deadline = t_a + timeout_s
    while True:
        t_a = now()
        value = read()
        t_b = now()
        if value != prev:
            return (prev_start + t_b) / 2, value, (t_b - prev_start) / 2
        if t_b > deadline:
            raise SystemExit("the energy counter did not move within a second")
        prev, prev_start = value, t_a


def run_trial(backend: Any, case: Case, repeat: int, pad_s: float) -> Trial:
    u_a, c_a, h_a = locate_step(backend.counter_j, backend.now)
    backend.idle(pad_s)
    u_i, c_i, h_i = locate_step(backend.counter_j, backend.now)
    idle_w = (c_i - c_a) / (u_i - u_a)
    t0 = backend.now()
    e0 = backend.counter_j()
    backend.monitor.sample_now()
    backend.load(case)
    t1 = backend.now()
    e1 = backend.counter_j()
    backend.monitor.sample_now()
    backend.idle(0.5)
    u_m, c_m, _ = locate_step(backend.counter_j, backend.now)  # diagnostics: idle power after the load
    backend.idle(max(0.0, t1 + pad_s - backend.now()))
    u_b, c_b, h_b = locate_step(backend.counter_j, backend.now)
    padding = (t0 - u_a) + (u_b - t1)
    reference = (c_b - c_a) - idle_w * padding
    ref_bound = (h_a + h_b) * idle_w + padding * idle_w * (h_a + h_i) / (u_i - u_a)
    est = backend.monitor.measure(t0, t1)[backend.sensors.gpus()[0].name]
    trial = Trial(
        case=case.name, repeat=repeat, duration_s=t1 - t0, reference_j=reference, reference_bound_j=ref_bound,
        idle_power_w=idle_w, post_idle_power_w=(c_b - c_m) / (u_b - u_m),
        seed_nvidia_smi_1hz_j=backend.seed_j(t0, t1), counter_at_edges_j=e1 - e0,
        hyperwatt_j=est.energy_j, hyperwatt_bound_j=est.uncertainty_j, hyperwatt_method=est.method,
        hyperwatt_samples=est.sample_count, true_j=backend.true_j(t0, t1),
    )
    for m in METHODS:
        value = getattr(trial, f"{m}_j")
        trial.errors_pct[m] = None if value is None else 100 * (value - reference) / reference
    return trial


def summarize(trials: list[Trial]) -> list[dict[str, Any]]:
    rows = []
    for case in CASES:
        mine = [t for t in trials if t.case == case.name]
        if not mine:
            continue
        row: dict[str, Any] = {"case": case.name, "target_pct": case.target_pct, "repeats": len(mine),
                               "reference_j": statistics.fmean(t.reference_j for t in mine)}
        for m in METHODS:
            errs = [t.errors_pct[m] for t in mine if t.errors_pct[m] is not None]
            row[m] = {"mean_pct": statistics.fmean(errs) if errs else None,
                      "max_abs_pct": max(abs(e) for e in errs) if errs else None}
        post = [t.post_idle_power_w for t in mine if t.post_idle_power_w is not None]
        row["idle_before_w"] = statistics.fmean(t.idle_power_w for t in mine)
        row["idle_after_w"] = statistics.fmean(post) if post else None  # the pad after, from 0.5 s on
        bounds = [100 * t.hyperwatt_bound_j / t.reference_j for t in mine if t.hyperwatt_bound_j is not None]
        row["hyperwatt_bound_pct"] = max(bounds) if bounds else None
        row["error_within_bound"] = all(
            t.hyperwatt_j is not None and t.hyperwatt_bound_j is not None
            and abs(t.hyperwatt_j - t.reference_j) <= t.hyperwatt_bound_j + t.reference_bound_j for t in mine)
        worst = row["hyperwatt"]["max_abs_pct"]
        row["meets_target"] = worst is not None and worst <= case.target_pct
        rows.append(row)
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


def _cell(stats: dict[str, float | None]) -> str:
    worst = stats["max_abs_pct"]
    return f"{_pct(stats['mean_pct'])} ({'—' if worst is None else f'{worst:.2f}'})"


def table(rows: list[dict[str, Any]], device: str) -> str:
    lines = [
        f"Energy accuracy on {device}: error vs the idle-padded counter reference, mean (max |err|) in %",
        "(the reference assumes the pad after the window idles at the power measured before it; "
        "compare the idle columns)",
        "",
        "| case | seed: nvidia-smi 1 Hz sum | counter at edges | hyperwatt | hyperwatt bound | target | meets "
        "| idle W before / after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [_cell(r[m]) for m in METHODS]
        bound = "—" if r["hyperwatt_bound_pct"] is None else f"±{r['hyperwatt_bound_pct']:.2f}"
        after = "—" if r["idle_after_w"] is None else f"{r['idle_after_w']:.1f}"
        lines.append(f"| {r['case']} ×{r['repeats']} | {' | '.join(cells)} | {bound} | ±{r['target_pct']:g} | "
                     f"{'yes' if r['meets_target'] else 'NO'} | {r['idle_before_w']:.1f} / {after} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=False)
    p.add_argument("--gpu", type=int, default=0, help="NVML (nvidia-smi) index")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pad", type=float, default=2.0, help="idle seconds before and after each window (>= 2)")
    p.add_argument("--rate", type=float, default=20.0, help="hyperwatt sampler rate, Hz")
    p.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16")
    p.add_argument("--cases", default=",".join(c.name for c in CASES), help="comma-separated subset")
    p.add_argument("--fake", action="store_true", help="simulated GPU on a fake clock (no torch, no GPU)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.dtype)
        return 0
    if args.out is None:
        p.error("--out is required")
    cases = [c for c in CASES if c.name in args.cases.split(",")]
    backend: Any = FakeBackend(args.rate) if args.fake else GpuBackend(args.gpu, args.dtype, args.rate)
    started = time.monotonic()
    trials: list[Trial] = []
    try:
        for r in range(args.repeats):
            for case in cases[r % len(cases):] + cases[:r % len(cases)]:  # rotate the order against drift
                trials.append(run_trial(backend, case, r, args.pad))
                t = trials[-1]
                print(f"{t.case} #{r + 1}: reference {t.reference_j:.1f} J; errors % " +
                      ", ".join(f"{m} {_pct(t.errors_pct[m])}" for m in METHODS), file=sys.stderr, flush=True)
        stats = backend.monitor.stats()
    finally:
        backend.close()
    rows = summarize(trials)
    counters = {k: asdict(v) for k, v in stats.counters.items()}
    result = {"device": backend.device, "fake": args.fake, "dtype": args.dtype, "pad_s": args.pad,
              "rate_hz": args.rate, "wall_s": time.monotonic() - started, "summary": rows,
              "trials": [asdict(t) for t in trials],
              "monitor": {"achieved_rate_hz": stats.achieved_rate_hz, "missed_rounds": stats.missed_rounds,
                          "sampler_cpu_pct": stats.cpu_pct, "counters": counters}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "energy_accuracy.json").write_text(json.dumps(result, indent=2, default=float))
    text = table(rows, backend.device)
    lock = next(iter(counters.values()), {})
    text += (f"\n\nhyperwatt sampler: {stats.achieved_rate_hz or 0:.1f} Hz achieved, counter {lock.get('mode')} "
             f"(period {1000 * (lock.get('period_s') or 0):.2f} ms, jitter {1000 * (lock.get('jitter_s') or 0):.2f} ms), "
             f"sampler CPU {stats.cpu_pct or 0:.2f} % of a core; hyperwatt error within its stated bound in every "
             f"trial: {'yes' if all(r['error_within_bound'] for r in rows) else 'NO'}\n")
    (args.out / "energy_accuracy.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
