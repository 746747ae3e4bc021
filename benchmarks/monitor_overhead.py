#!/usr/bin/env python3
"""Does measuring slow training down, and which NVML call is to blame?

A launch-bound training (a small CNN, torch.cuda.synchronize every step) runs in a worker
subprocess, as under hyperwatt, in short blocks of a fixed step count (--block-seconds, 2.5 s).
The monitors under test run in this process. Each cycle runs one block per mode, the order
rotated every cycle, always with a "none" block. A block with hyperwatt's Monitor is preceded by
--lead-seconds of unmeasured training while the Monitor re-locks onto the energy counter.

Two estimates of each mode's slowdown, each the median over cycles with a distribution-free 95 %
CI from order statistics:

- block ratio: (the mode's block time / the same cycle's "none" block time) - 1. It sees every
  effect, but the step time of a launch-bound loop wanders by a few % on a scale of seconds, so its
  CI is wide;
- attributed: the worker reports when each step ended, and every NVML call (and nvidia-smi run)
  the probe makes is timed. A step hit by a call (overlapping it, or the step right after) is
  compared with its nearest unhit steps; the excess, summed, is the time the calls cost. The same
  call pattern laid over the cycle's "none" block gives the excess of chance (long steps meet more
  calls), which is subtracted. Immune to the wander, it resolves tenths of a percent, and split
  by call (the longest one hitting a step) it tells which call costs what. It misses effects
  that do not coincide with a call.

Modes (--modes):

  none              no monitor
  hyperwatt         Monitor as the engine runs it (a plan's [sensors] defaults: 20 Hz, re-lock every 10 s)
  hyperwatt-lockN   Monitor(lock_interval_s=N)
  nvidia-smi-1hz    one `nvidia-smi --query-gpu=power.draw` a second (the seed's sampler)
  power-Nhz         N reads a second of NVML field values 186/185 (power), nothing else
  util-Nhz          N reads a second of nvmlDeviceGetUtilizationRates
  counter-Nhz       N reads a second of nvmlDeviceGetTotalEnergyConsumption, in bursts of 3
                    back-to-back reads like the Monitor's targeted seeks (counter-3hz: one a second)

CPU % is the sampler/loop thread's own CPU time (nvidia-smi: its child processes') as % of a core.
--call-costs (on by default on GPU) adds each NVML call's latency, GPU idle and while training.

GPU:  PYTHONPATH=src python3 benchmarks/monitor_overhead.py --out DIR [--gpu 0] [--cycles 12]
      (about 4 minutes with the defaults, start-up included: 241 s on an H200)
CPU:  PYTHONPATH=src python3 benchmarks/monitor_overhead.py --fake --out DIR --cycles 2 --block-seconds 0.3
      (a Python loop and a fake NVML GPU with 3.5 ms counter reads; a smoke test, ~10 s)

Writes DIR/monitor_overhead.json (every block) and DIR/monitor_overhead.md, and prints the tables last.
"""

from __future__ import annotations

import argparse
import bisect
import inspect
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hyperwatt.config.plan import SensorSettings
from hyperwatt.sensors import Monitor, SensorSet, discover, load_nvml
from hyperwatt.sensors.fake import FakeGpu, FakeNvml
from hyperwatt.sensors.nvml import FI_POWER_AVERAGE, FI_POWER_INSTANT

DEFAULT_MODES = "none,hyperwatt,hyperwatt-lock1,nvidia-smi-1hz,power-20hz,counter-3hz"
TARGET_SLOWDOWN_PCT = 0.5
TARGET_SAMPLER_CPU_PCT = 2.0
CALL_SAMPLES = 50  # per NVML call and condition in the latency table
SETTLE_S = 2.0  # extra lead before a Monitor's first block: its first lock and period refinement
NEIGHBOURS = 16  # unhit steps each side that a hit step is compared with
FIELDS = "field values [186, 185]"
LOOP_CALLS = {  # mode prefix -> (NVML call, burst size)
    "power": (FIELDS, 1),
    "util": ("nvmlDeviceGetUtilizationRates", 1),
    "counter": ("nvmlDeviceGetTotalEnergyConsumption", 3),
}
Call = tuple[str, float, float]  # name, start, end (time.monotonic)


# --- the worker ----------------------------------------------------------------------------------
def worker_main(fake: bool, block_s: float) -> None:
    """Calibrate a step count for a ~`block_s` block and print "steps N". Then, for each
    "run LEAD": train unmeasured for LEAD seconds, print "go", run exactly N steps and print
    "done T0 E1 ... EN" (T0: time.monotonic() at the start; Ei: end of step i after T0, in µs).
    Any other line ends."""
    step = _cpu_step() if fake else _gpu_step()
    for _ in range(5):
        step()
    t = time.monotonic()
    n_cal = 0
    while time.monotonic() - t < min(2.0, block_s / 4) or n_cal < 10:
        step()
        n_cal += 1
    steps = max(10, round(block_s * n_cal / (time.monotonic() - t)))
    print(f"steps {steps}", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if len(cmd) != 2 or cmd[0] != "run":
            break
        lead_end = time.monotonic() + float(cmd[1])
        while time.monotonic() < lead_end:
            step()
        print("go", flush=True)
        ends = [0.0] * steps
        t = time.monotonic()
        for i in range(steps):
            step()
            ends[i] = time.monotonic()
        print(f"done {t!r} " + " ".join(str(round(1e6 * (e - t))) for e in ends), flush=True)


def _gpu_step() -> Callable[[], None]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(128, 10),
    ).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(128, 3, 64, 64, device="cuda")
    y = torch.randint(0, 10, (128,), device="cuda")
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        torch.cuda.synchronize()

    return step


def _cpu_step() -> Callable[[], None]:
    def step() -> None:  # pure Python: one core, steady
        sum(i * i for i in range(2000))

    return step


class Worker:
    """The training subprocess, driven one block at a time."""

    def __init__(self, fake: bool, block_s: float, env: dict[str, str]) -> None:
        cmd = [sys.executable, __file__, "--worker", "--block-seconds", str(block_s)] + (["--fake"] if fake else [])
        self._proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      bufsize=1)
        self.steps = int(self._expect("steps")[0])

    def _expect(self, word: str) -> list[str]:
        assert self._proc.stdout is not None
        reply = self._proc.stdout.readline().split()
        if not reply or reply[0] != word:
            raise SystemExit(f"the training worker failed (expected {word!r}, got {reply[:3]}; see its stderr above)")
        return reply[1:]

    def start_block(self, lead_s: float) -> None:
        """Ask for a block; return once the lead is over and the timed steps begin."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"run {lead_s!r}\n")
        self._proc.stdin.flush()
        self._expect("go")

    def finish_block(self) -> list[float]:
        """Wait for the block's end; its step boundaries (start, end of step 1, ..., time.monotonic)."""
        t0, *ends = self._expect("done")
        start = float(t0)
        return [start] + [start + int(e) / 1e6 for e in ends]

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write("quit\n")
                self._proc.stdin.close()
            except OSError:
                pass
        self._proc.wait(timeout=60)


# --- what the probes read ------------------------------------------------------------------------
class CallLog:
    """A stand-in for the pynvml module that times every nvml* call into `calls` (None: off)."""

    def __init__(self, nvml: Any) -> None:
        self._nvml = nvml
        self.calls: list[Call] | None = None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._nvml, name)
        return self.timed(name.removeprefix("nvmlDeviceGet"), attr) if name.startswith("nvml") else attr

    def timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.calls is not None:
                    self.calls.append((name, start, time.monotonic()))

        return call


@dataclass
class Rig:
    """NVML (real, or fake over a FakeGpu) and its timed stand-in, one GPU's handle and sensors
    (which call NVML through the stand-in), and how to run things."""

    nvml: Any
    log: CallLog
    handle: Any
    sensors: SensorSet
    device: str
    smi_argv: list[str]
    env: dict[str, str]
    lead_s: float

    def calls(self, nvml: Any) -> dict[str, Callable[[], object]]:
        """Every NVML call the sensor makes, by name, through `nvml` (the module or the log)."""
        h = self.handle
        temp, sm = getattr(self.nvml, "NVML_TEMPERATURE_GPU", 0), getattr(self.nvml, "NVML_CLOCK_SM", 1)
        return {
            FIELDS: lambda: nvml.nvmlDeviceGetFieldValues(h, [FI_POWER_INSTANT, FI_POWER_AVERAGE]),
            "nvmlDeviceGetPowerUsage": lambda: nvml.nvmlDeviceGetPowerUsage(h),
            "nvmlDeviceGetUtilizationRates": lambda: nvml.nvmlDeviceGetUtilizationRates(h),
            "nvmlDeviceGetTotalEnergyConsumption": lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(h),
            "nvmlDeviceGetTemperature (GPU)": lambda: nvml.nvmlDeviceGetTemperature(h, temp),
            "nvmlDeviceGetClockInfo (SM)": lambda: nvml.nvmlDeviceGetClockInfo(h, sm),
            "nvmlDeviceGetMemoryInfo": lambda: nvml.nvmlDeviceGetMemoryInfo(h),
            "nvmlDeviceGetComputeRunningProcesses": lambda: nvml.nvmlDeviceGetComputeRunningProcesses(h),
            "nvmlDeviceGetProcessUtilization": lambda: nvml.nvmlDeviceGetProcessUtilization(
                h, int((time.time() - 1.0) * 1e6)),
        }

    def close(self) -> None:
        self.sensors.close()
        self.nvml.nvmlShutdown()


def open_rig(fake: bool, gpu: int, lead_s: float) -> Rig:
    nvml = FakeNvml([FakeGpu(250.0, counter_read_cost_s=0.0035)]) if fake else load_nvml()
    log = CallLog(nvml)
    nvml.nvmlInit()
    sensors = discover(gpu_indices=[gpu], cpu=False, nvml=log)
    if not sensors.gpus():
        raise SystemExit(f"no hyperwatt sensor for GPU {gpu}: {sensors.unavailable}")
    h = nvml.nvmlDeviceGetHandleByIndex(gpu)
    uuid, name = (_text(v) for v in (nvml.nvmlDeviceGetUUID(h), nvml.nvmlDeviceGetName(h)))
    if fake:
        return Rig(nvml, log, h, sensors, f"CPU (Python loop; {name}: fake NVML, 3.5 ms counter reads)",
                   [sys.executable, "-c", "print(250.0)"], dict(os.environ), lead_s)
    return Rig(nvml, log, h, sensors, f"{name} (index {gpu}, driver {sensors.driver_version})",
               ["nvidia-smi", "--query-gpu=power.draw", "--format=csv,noheader,nounits", "-i", str(gpu)],
               {**os.environ, "CUDA_VISIBLE_DEVICES": uuid}, lead_s)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- the monitors under test ---------------------------------------------------------------------
class Probe(Protocol):
    lead_s: float  # unmeasured training before the block, while the probe settles

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def usage(self) -> dict[str, float]: ...  # cumulative: cpu_s, calls, ...
    def status(self) -> dict[str, Any]: ...


class MonitorProbe:
    """hyperwatt's Monitor, one for the whole run: restarted for each block, it re-locks with one
    seek, its period already known, as a sampler that has run for a while stays locked. Its first
    block gets SETTLE_S more lead. Its calls are energy-counter reads."""

    def __init__(self, rig: Rig, **kwargs: Any) -> None:
        self.monitor = Monitor(rig.sensors, **kwargs)
        self._lead_s = rig.lead_s
        self._settled = False

    @property
    def lead_s(self) -> float:
        return self._lead_s if self._settled else self._lead_s + SETTLE_S

    def start(self) -> None:
        self.monitor.start()

    def stop(self) -> None:
        self.monitor.stop()
        self._settled = True

    def usage(self) -> dict[str, float]:
        s = self.monitor.stats()
        return {"cpu_s": s.cpu_s, "calls": sum(c.reads for c in s.counters.values()), "rounds": s.rounds,
                "missed_rounds": s.missed_rounds}

    def status(self) -> dict[str, Any]:
        return {"counter_mode": {k: c.mode for k, c in self.monitor.stats().counters.items()},
                "thread_error": self.monitor.thread_error}


class CallLoop:
    """`burst` back-to-back calls of `fn` every `period_s` in a thread (restartable), the first burst
    half a period after start so that a short block sees its fair share; calls raising `errors` are
    counted."""

    lead_s = 0.0

    def __init__(self, fn: Callable[[], object], period_s: float, burst: int,
                 errors: tuple[type[Exception], ...]) -> None:
        self._fn, self._period_s, self._burst, self._errors = fn, period_s, burst, errors
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.calls = self.errors = 0
        self.cpu_s = 0.0

    def _run(self) -> None:
        cpu0, start = time.thread_time(), time.monotonic()
        k = 0
        while not self._stop.wait(max(0.0, start + (k + 0.5) * self._period_s - time.monotonic())):
            for _ in range(self._burst):
                try:
                    self._fn()
                except self._errors:
                    self.errors += 1
                self.calls += 1
            self.cpu_s = time.thread_time() - cpu0
            k = max(k + 1, math.ceil((time.monotonic() - start) / self._period_s - 0.5))  # skip missed slots

    def start(self) -> None:
        self._stop.clear()
        self.cpu_s = 0.0  # this thread's; calls count on across restarts
        self._thread = threading.Thread(target=self._run, name="overhead-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def usage(self) -> dict[str, float]:
        return {"cpu_s": self.cpu_s, "calls": self.calls}

    def status(self) -> dict[str, Any]:
        return {"errors": self.errors}


class SmiLoop(CallLoop):
    """One nvidia-smi run a second (argv, no shell), each timed into `log`; its CPU is the
    finished children's."""

    def __init__(self, argv: list[str], log: CallLog) -> None:
        run = log.timed("nvidia-smi", lambda: subprocess.run(argv, capture_output=True, timeout=5, check=True))
        super().__init__(run, 1.0, 1, (OSError, subprocess.SubprocessError))

    def usage(self) -> dict[str, float]:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"cpu_s": self.cpu_s + ru.ru_utime + ru.ru_stime, "calls": self.calls}


ProbeFactory = Callable[[Rig], Probe]


def probe_factory(mode: str) -> ProbeFactory | None:
    """What a mode name asks for (None: no monitor); ValueError for a name not understood."""
    number = r"(\d+(?:\.\d+)?)"
    if mode == "none":
        return None
    if mode == "hyperwatt":
        return lambda rig: MonitorProbe(rig, **monitor_defaults())
    if m := re.fullmatch(f"hyperwatt-lock{number}", mode):
        lock_s = float(m[1])
        return lambda rig: MonitorProbe(rig, lock_interval_s=lock_s)
    if mode == "nvidia-smi-1hz":
        return lambda rig: SmiLoop(rig.smi_argv, rig.log)
    if (m := re.fullmatch(f"({'|'.join(LOOP_CALLS)})-{number}hz", mode)) and float(m[2]) > 0:
        call, burst = LOOP_CALLS[m[1]]
        period_s = burst / float(m[2])
        return lambda rig: CallLoop(rig.calls(rig.log)[call], period_s, burst, (rig.nvml.NVMLError,))
    raise ValueError(f"unknown mode {mode!r}")


def monitor_defaults() -> dict[str, Any]:
    """The sampler as the engine runs it: Monitor's keyword defaults (from its signature) overridden
    by a plan's `[sensors]` defaults (rate, lock interval)."""
    defaults = {k: p.default for k, p in inspect.signature(Monitor).parameters.items()
                if p.default is not inspect.Parameter.empty and isinstance(p.default, (int, float))}
    engine = SensorSettings()
    return defaults | {"rate_hz": engine.rate_hz, "lock_interval_s": engine.lock_interval_s}


# --- measuring -----------------------------------------------------------------------------------
@dataclass
class Trace:
    """One block: its step boundaries and the calls its probe made (time.monotonic)."""

    bounds: list[float]
    calls: list[Call]

    @property
    def seconds(self) -> float:
        return self.bounds[-1] - self.bounds[0]


def run_block(worker: Worker, rig: Rig, probe: Probe | None) -> tuple[dict[str, Any], Trace]:
    """One timed block under `probe` (None: no monitor): its time, the probe's rates, and its trace."""
    if probe is None:
        worker.start_block(0.0)
        trace = Trace(worker.finish_block(), [])
        return {"seconds": trace.seconds, "lead_s": 0.0}, trace
    lead_s, calls = probe.lead_s, []
    rig.log.calls = calls
    probe.start()
    try:
        worker.start_block(lead_s)
        t0, u0 = time.monotonic(), probe.usage()
        bounds = worker.finish_block()
        t1, u1 = time.monotonic(), probe.usage()
    finally:
        probe.stop()
        rig.log.calls = None
    trace = Trace(bounds, calls)
    wall = t1 - t0
    row: dict[str, Any] = {"seconds": trace.seconds, "lead_s": lead_s,
                           "cpu_pct": 100 * (u1["cpu_s"] - u0["cpu_s"]) / wall}
    row |= {f"{k}_per_s": (u1[k] - u0[k]) / wall for k in u1 if k != "cpu_s"}
    return row | probe.status(), trace


def run_cycles(worker: Worker, rig: Rig, modes: list[str], cycles: int) -> list[dict[str, Any]]:
    """`cycles` rounds of one block per mode, the order rotated each round; one probe per mode.
    Each block's row carries its attributed slowdown against the cycle's "none" block."""
    probes = {mode: factory and factory(rig) for mode, factory in ((m, probe_factory(m)) for m in modes)}
    blocks = []
    for c in range(cycles):
        rows: dict[str, dict[str, Any]] = {}
        traces: dict[str, Trace] = {}
        for pos, mode in enumerate(modes[c % len(modes):] + modes[:c % len(modes)]):
            row, traces[mode] = run_block(worker, rig, probes[mode])
            rows[mode] = {"cycle": c, "position": pos, "mode": mode} | row
            print(f"cycle {c + 1}/{cycles} {mode}: {row['seconds']:.4f} s", file=sys.stderr, flush=True)
        for mode in modes[1:]:
            rows[mode] |= attribute(traces[mode], traces["none"])
        blocks += sorted(rows.values(), key=lambda r: r["position"])
    return blocks


def call_costs(rig: Rig, worker: Worker, block_s: float) -> list[dict[str, Any]]:
    """Each NVML call's latency, ~CALL_SAMPLES calls with the GPU idle and as many during a block."""
    calls = rig.calls(rig.nvml)
    pace_s = min(0.02, block_s / 2 / CALL_SAMPLES)  # the busy calls end well within the block
    idle = _time_calls(rig, calls, pace_s)
    worker.start_block(0.0)
    busy = _time_calls(rig, calls, pace_s)
    worker.finish_block()
    return [{"call": name, "idle": idle[name], "training": busy[name]} for name in calls]


def _time_calls(rig: Rig, calls: dict[str, Callable[[], object]], pace_s: float) -> dict[str, dict[str, Any]]:
    """Every call in turn, CALL_SAMPLES rounds `pace_s` apart: latency median and p95 (µs), errors."""
    took: dict[str, list[float]] = {name: [] for name in calls}
    errors: dict[str, list[str]] = {name: [] for name in calls}
    start = time.monotonic()
    for i in range(CALL_SAMPLES):
        for name, fn in calls.items():
            t = time.perf_counter()
            try:
                fn()
            except rig.nvml.NVMLError as exc:
                errors[name].append(str(exc))
            took[name].append(1e6 * (time.perf_counter() - t))
        time.sleep(max(0.0, start + (i + 1) * pace_s - time.monotonic()))
    out = {}
    for name, us in took.items():
        if len(errors[name]) == len(us):
            out[name] = {"unsupported": errors[name][0]}
        else:
            us.sort()
            out[name] = {"median_us": statistics.median(us), "p95_us": us[math.ceil(0.95 * len(us)) - 1],
                         "calls": len(us), "errors": len(errors[name])}
    return out


# --- statistics ----------------------------------------------------------------------------------
def step_excess(bounds: list[float], calls: list[Call]) -> dict[str, list[float]]:
    """Per call name: [steps hit, seconds they ran over their unhit neighbours]. A call hits the
    steps it overlaps and the step after; a step hit by several calls counts for the longest. A
    hit step is compared with the mean of the NEIGHBOURS nearest unhit steps on each side."""
    n = len(bounds) - 1
    hit: list[tuple[float, str] | None] = [None] * n
    for name, start, end in calls:
        if end <= bounds[0] or start >= bounds[-1]:
            continue
        first = max(0, bisect.bisect_right(bounds, start) - 1)
        for i in range(first, min(n - 1, bisect.bisect_left(bounds, end)) + 1):
            if hit[i] is None or end - start > hit[i][0]:
                hit[i] = (end - start, name)
    took = [bounds[i + 1] - bounds[i] for i in range(n)]
    clean = [i for i in range(n) if hit[i] is None]
    out: dict[str, list[float]] = {}
    for i, by in enumerate(hit):
        k = bisect.bisect_left(clean, i)
        ref = clean[max(0, k - NEIGHBOURS):k + NEIGHBOURS]
        if by is not None and ref:
            group = out.setdefault(by[1], [0, 0.0])
            group[0] += 1
            group[1] += took[i] - statistics.fmean(took[j] for j in ref)
    return out


def attribute(trace: Trace, none: Trace) -> dict[str, Any]:
    """The slowdown attributed to the probe's calls in one block: their step excess, less the excess
    of the same call pattern laid over the cycle's none block (chance), as % of the block time."""
    shift = none.bounds[0] - trace.bounds[0]
    real = step_excess(trace.bounds, trace.calls)
    chance = step_excess(none.bounds, [(name, a + shift, b + shift) for name, a, b in trace.calls])
    groups = {g: {"hits": real.get(g, [0, 0.0])[0], "excess_s": real.get(g, [0, 0.0])[1],
                  "chance_excess_s": chance.get(g, [0, 0.0])[1]} for g in sorted(real.keys() | chance.keys())}
    pct = 100 * (sum(v["excess_s"] for v in groups.values()) / trace.seconds
                 - sum(v["chance_excess_s"] for v in groups.values()) / none.seconds)
    return {"attributed_pct": pct, "groups": groups}


def _binom_half_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def median_ci(values: list[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """Median and its distribution-free CI from order statistics: (median, lo, hi, coverage).
    The coverage falls short of `level` when there are too few values (fewer than 6 for 95 %)."""
    xs = sorted(values)
    n = len(xs)
    k = 1
    while k < n // 2 and _binom_half_cdf(k, n) <= (1 - level) / 2:
        k += 1
    return statistics.median(xs), xs[k - 1], xs[n - k], 1 - 2 * _binom_half_cdf(k - 1, n)


def summarise(blocks: list[dict[str, Any]], modes: list[str]) -> list[dict[str, Any]]:
    """Per mode: block times, the block-ratio and attributed slowdowns, CPU, rates, call groups."""
    none = {b["cycle"]: b["seconds"] for b in blocks if b["mode"] == "none"}
    summary = []
    for mode in modes:
        mine = [b for b in blocks if b["mode"] == mode]
        secs = [b["seconds"] for b in mine]
        ratio, lo, hi, coverage = median_ci([b["seconds"] / none[b["cycle"]] for b in mine])
        row: dict[str, Any] = {
            "mode": mode, "blocks": len(secs), "min_s": min(secs), "median_s": statistics.median(secs),
            "spread_pct": 100 * (max(secs) - min(secs)) / statistics.median(secs),
            "slowdown_pct": 100 * (ratio - 1), "ci_pct": [100 * (lo - 1), 100 * (hi - 1)], "ci_coverage": coverage,
            "cpu_pct_of_a_core": _median_of(mine, "cpu_pct"), "calls_per_s": _median_of(mine, "calls_per_s"),
            "thread_errors": sorted({b["thread_error"] for b in mine if b.get("thread_error")}),
        }
        if mode != "none":
            att, att_lo, att_hi, _ = median_ci([b["attributed_pct"] for b in mine])
            row |= {"attributed_pct": att, "attributed_ci_pct": [att_lo, att_hi], "groups": _groups(mine, none)}
        summary.append(row)
    return summary


def _median_of(blocks: list[dict[str, Any]], key: str) -> float | None:
    values = [b[key] for b in blocks if key in b]
    return statistics.median(values) if values else None


def _groups(blocks: list[dict[str, Any]], none_s: dict[int, float]) -> list[dict[str, Any]]:
    """Per call over all of a mode's blocks: steps hit per s, excess per hit (ms, chance removed),
    and its share of the attributed slowdown; largest share first."""
    mode_s, base_s = sum(b["seconds"] for b in blocks), sum(none_s[b["cycle"]] for b in blocks)
    out = []
    for g in sorted({g for b in blocks for g in b["groups"]}):
        hits = sum(b["groups"].get(g, {}).get("hits", 0) for b in blocks)
        real = sum(b["groups"].get(g, {}).get("excess_s", 0.0) for b in blocks)
        chance = sum(b["groups"].get(g, {}).get("chance_excess_s", 0.0) for b in blocks)
        pct = 100 * (real / mode_s - chance / base_s)
        out.append({"group": g, "hits_per_s": hits / mode_s, "pct": pct,
                    "ms_per_hit": 1e3 * pct / 100 * mode_s / hits if hits else None})
    return sorted(out, key=lambda r: -r["pct"])


def verdict(summary: list[dict[str, Any]]) -> dict[str, Any] | None:
    """hyperwatt at its defaults against the targets (None when that mode was not run); the
    slowdown is judged on the attributed estimate, the block ratio's CI is the check on it."""
    hw = next((s for s in summary if s["mode"] == "hyperwatt"), None)
    if hw is None:
        return None
    cpu, att, ci = hw["cpu_pct_of_a_core"], hw["attributed_pct"], hw["ci_pct"]
    return {"attributed_pct": att, "attributed_ci_pct": hw["attributed_ci_pct"], "slowdown_pct": hw["slowdown_pct"],
            "ci_pct": ci, "slowdown_ok": att <= TARGET_SLOWDOWN_PCT, "blocks_agree": ci[0] <= att <= ci[1],
            "cpu_pct_of_a_core": cpu, "sampler_cpu_ok": cpu is not None and cpu <= TARGET_SAMPLER_CPU_PCT}


# --- the report ----------------------------------------------------------------------------------
def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def _ci(lo_hi: list[float]) -> str:
    return f"{lo_hi[0]:+.2f} … {lo_hi[1]:+.2f} %"


def render(result: dict[str, Any]) -> str:
    summary, cycles = result["summary"], result["cycles"]
    others = [s for s in summary if s["mode"] != "none"]
    defaults = ", ".join(f"{k}={v}" for k, v in result["monitor_defaults"].items())
    lines = [
        (f"Monitor overhead on {result['device']}: {result['steps_per_block']} training steps per block "
         f"(~{result['block_s']:g} s), {cycles} cycles of {len(summary)} modes in rotating order; "
         f"hyperwatt = the engine's sampler ({defaults}); Monitor blocks after a {result['lead_s']:g} s unmeasured lead"),
        "",
        ("| mode | blocks | min s | median s | spread | slowdown: block ratio | 95 % CI | attributed to its calls "
         "| 95 % CI | CPU % of a core | calls/s |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        if s["mode"] == "none":
            cells = ["reference", "—", "—", "—"]
        else:
            cells = [f"{s['slowdown_pct']:+.2f} %", _ci(s["ci_pct"]), f"{s['attributed_pct']:+.2f} %",
                     _ci(s["attributed_ci_pct"])]
        lines.append(f"| {s['mode']} | {s['blocks']} | {s['min_s']:.4f} | {s['median_s']:.4f} | {s['spread_pct']:.2f} % "
                     f"| {' | '.join(cells)} | {_fmt(s['cpu_pct_of_a_core'])} | {_fmt(s['calls_per_s'], '.1f')} |")
    coverage = f"{100 * others[0]['ci_coverage']:.1f} %" if others else "—"
    lines += ["", (f"Medians over the {cycles} cycles; CIs from their order statistics (coverage {coverage}). Block "
                   "ratio: block time / the same cycle's none block time − 1. Attributed: the excess time of the steps "
                   "the probe's calls hit, less that of the same calls laid over the none block (chance). spread: "
                   "(max − min) / median block time. calls/s: energy-counter reads (hyperwatt), NVML calls "
                   "(power/util/counter), nvidia-smi runs. CPU: the sampler or loop thread's (nvidia-smi: its "
                   "children's).")]
    resolved = [f"{s['mode']} {s['attributed_pct']:+.2f} %" for s in others if s["attributed_ci_pct"][0] > 0]
    lines.append(f"Slower than none (attributed CI above 0): {', '.join(resolved) or 'none'}.")
    for s in summary:
        if s["thread_errors"]:
            lines.append(f"{s['mode']}: the sampler thread died: {'; '.join(s['thread_errors'])}")
    v = result["verdict"]
    if v is not None:
        lines.append(
            f"hyperwatt at defaults: slowdown attributed to its calls {v['attributed_pct']:+.2f} % "
            f"(95 % CI {_ci(v['attributed_ci_pct'])}; target <= {TARGET_SLOWDOWN_PCT} %: "
            f"{'yes' if v['slowdown_ok'] else 'NO'}), block ratio {v['slowdown_pct']:+.2f} % (95 % CI "
            f"{_ci(v['ci_pct'])}, {'consistent' if v['blocks_agree'] else 'NOT consistent: an effect beyond its calls?'}"
            f"), sampler CPU {_fmt(v['cpu_pct_of_a_core'])} % of a core (target <= {TARGET_SAMPLER_CPU_PCT} %: "
            f"{'yes' if v['sampler_cpu_ok'] else 'NO'}).")
    lines += ["", ("Which call costs what (nvmlDeviceGet left off the names): steps hit per second, their excess and "
                   "share of the block time, chance removed; a step hit by several calls counts for the longest:"), "",
              "| mode | call | steps hit/s | excess per hit ms | slowdown share |", "|---|---|---|---|---|"]
    for s in others:
        for g in s["groups"]:
            lines.append(f"| {s['mode']} | {g['group']} | {g['hits_per_s']:.1f} | {_fmt(g['ms_per_hit'], '.3f')} "
                         f"| {g['pct']:+.3f} % |")
    if result["call_costs"]:
        lines += ["", f"NVML call latency in µs, {CALL_SAMPLES} calls each, GPU idle and while the training runs:", "",
                  "| call | idle median | idle p95 | training median | training p95 |", "|---|---|---|---|---|"]
        for row in result["call_costs"]:
            cells = [_cost_cells(row[k]) for k in ("idle", "training")]
            lines.append(f"| {row['call']} | {' | '.join(c for pair in cells for c in pair)} |")
    return "\n".join(lines + [""])


def _cost_cells(cost: dict[str, Any]) -> tuple[str, str]:
    if "unsupported" in cost:
        return f"unsupported ({cost['unsupported']})", "—"
    errors = f" ({cost['errors']} errors)" if cost["errors"] else ""
    return f"{cost['median_us']:.0f}{errors}", f"{cost['p95_us']:.0f}"


# --- main ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path)
    p.add_argument("--gpu", type=int, default=0, help="NVML (nvidia-smi) index")
    p.add_argument("--modes", default=DEFAULT_MODES, help=f"comma list (default {DEFAULT_MODES}); none is always run")
    p.add_argument("--cycles", type=int, default=12, help="blocks per mode (default 12)")
    p.add_argument("--block-seconds", type=float, default=2.5, help="length of one timed block (default 2.5)")
    p.add_argument("--lead-seconds", type=float, default=1.0,
                   help="unmeasured training before a Monitor block while it locks (default 1)")
    p.add_argument("--call-costs", action=argparse.BooleanOptionalAction, default=None,
                   help="the NVML call latency table (default: on, off with --fake)")
    p.add_argument("--fake", action="store_true", help="a CPU loop and a fake NVML GPU (no GPU)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return args
    if args.out is None:
        p.error("--out is required")
    if args.cycles < 1 or args.block_seconds <= 0 or args.lead_seconds < 0:
        p.error("--cycles must be >= 1, --block-seconds > 0 and --lead-seconds >= 0")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    args.modes = ["none"] + [m for m in dict.fromkeys(modes) if m != "none"]
    for mode in args.modes:
        try:
            probe_factory(mode)
        except ValueError as exc:
            p.error(str(exc))
    if args.call_costs is None:
        args.call_costs = not args.fake
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker_main(args.fake, args.block_seconds)
        return 0
    started = time.monotonic()
    rig = open_rig(args.fake, args.gpu, args.lead_seconds)
    try:
        worker = Worker(args.fake, args.block_seconds, rig.env)
        try:
            run_block(worker, rig, None)  # one unmeasured block: caches, clocks
            costs = call_costs(rig, worker, args.block_seconds) if args.call_costs else []
            blocks = run_cycles(worker, rig, args.modes, args.cycles)
        finally:
            worker.close()
    finally:
        rig.close()
    summary = summarise(blocks, args.modes)
    result = {"device": rig.device, "fake": args.fake, "modes": args.modes, "cycles": args.cycles,
              "block_s": args.block_seconds, "lead_s": args.lead_seconds, "steps_per_block": worker.steps,
              "monitor_defaults": monitor_defaults(), "wall_s": time.monotonic() - started, "summary": summary,
              "verdict": verdict(summary), "call_costs": costs, "blocks": blocks}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "monitor_overhead.json").write_text(json.dumps(result, indent=2))
    text = render(result)
    (args.out / "monitor_overhead.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
