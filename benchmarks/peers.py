#!/usr/bin/env python3
"""hyperwatt beside the tools people would pick instead, on the same GPU loads, against one reference.

Every trial runs one load (matmul bursts of 2 s, 5 s and 30 s; 250 ms on / 250 ms off for 10 s) in a
worker subprocess, as trainings run under hyperwatt, while every method holds its own window open:

- seed: the seed system's 1 Hz `nvidia-smi --query-gpu=power.draw` samples summed (x 1 s);
- counter at edges: NVML's energy counter read once at each edge of the window;
- zeus: `zeus.monitor.ZeusMonitor` begin_window / end_window (Zeus 0.16; optional);
- codecarbon: `OfflineEmissionsTracker` start / stop, its GPU energy (default settings; optional);
- hyperwatt: `Monitor.measure` over the window, its stated bound beside it.

Each method is judged on its own window edges against the **reference**: NVML's counter, read every
20 ms in the idle pads before and after the load so its steps are located to about 12 ms; the energy
between two located steps is exact. The part of a window between its edge and the nearest located
step is idle, and is taken from the power the pad's steps show there: before the load from the
trend of the last steps, after it from a fit of the decay towards idle (the GPU idles warmer after a
load than before it, which biased the old constant-idle reference low). The reference states its own
bound (step location x power, the fit's residual, the first post-load interval's excess).

Variants: `inproc` (hyperwatt's sampler thread in this process, beside Zeus and CodeCarbon) and
`engine` (hyperwatt's sampler in its own process, as the engine runs it: the runner samples,
trainings are subprocesses), so contention between the tools is not mistaken for accuracy.

GPU:  PYTHONPATH=src python3 benchmarks/peers.py --out DIR [--gpu 0] [--repeats 3] [--variants engine,inproc]
CPU:  PYTHONPATH=src python3 benchmarks/peers.py --fake --out DIR   (simulated GPU; peers skipped)
      PYTHONPATH=src python3 benchmarks/peers.py --replay RUN_DIR   (a recorded GPU run, hyperwatt re-estimated)

Writes DIR/peers.json and DIR/peers.md and prints the tables last.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from energy_accuracy import Case, FakeBackend  # noqa: E402
from hyperwatt.config.plan import SensorSettings  # noqa: E402
from hyperwatt.sensors import Monitor, discover  # noqa: E402
from hyperwatt.sensors.monitor import CONTEXT_S  # noqa: E402
from hyperwatt.sensors.nvml import NOMINAL_UPDATE_S  # noqa: E402
from hyperwatt.sensors.records import Sample, SensorInfo  # noqa: E402
from hyperwatt.sensors.window import window_energy  # noqa: E402

# Targets of issue 18 (worst |error| in %), in the same run as the peers.
CASES = [
    Case("burst-2s", "burst", 2.0, 0.75),
    Case("burst-5s", "burst", 5.0, 0.3),
    Case("burst-30s", "burst", 30.0, 0.1),
    Case("onoff-250ms-10s", "onoff", 10.0, 0.3),
]
METHODS = ("seed_nvidia_smi_1hz", "counter_at_edges", "zeus", "codecarbon", "hyperwatt")
PEERS = ("zeus", "codecarbon")
PRE_PAD_S = 2.0
POST_PAD_S = 3.0
FIT_SKIP_S = 0.2  # post-pad steps this close to the window end are not used for the decay fit
READ_INTERVAL_S = 0.02  # the reference's counter reads in the pads: each step located to about +/-12 ms


# --- the reference -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """A counter step located between two back-to-back reads: at `t` +/- `half`, counter `value_j` after it."""

    t: float
    half: float
    value_j: float


def locate_steps(reads: list[tuple[float, float, float]]) -> list[Step]:
    """Steps from reads (start, end, value): a change between read i-1 and read i happened in (start_{i-1}, end_i)."""
    steps = []
    for (a0, _b0, v0), (_a1, b1, v1) in zip(reads, reads[1:]):
        if v1 != v0:
            steps.append(Step(t=(a0 + b1) / 2, half=(b1 - a0) / 2, value_j=v1))
    return steps


@dataclass(frozen=True)
class Reference:
    """The counter's energy over any window that holds the load, from the located steps in the pads."""

    pre: list[Step]
    post: list[Step]

    def _pre_power(self) -> tuple[float, float]:
        """Idle power just before the windows opened (last second of the pre pad) and its spread."""
        tail = [s for s in self.pre if s.t >= self.pre[-1].t - 1.0]
        powers = [(b.value_j - a.value_j) / (b.t - a.t) for a, b in zip(tail, tail[1:])]
        return statistics.fmean(powers), (max(powers) - min(powers)) / 2

    def _post_fit(self, t_end: float) -> tuple[Callable[[float], float], float]:
        """Power after the load: an exponential decay towards idle fitted to the post pad's step intervals."""
        pts = [((a.t + b.t) / 2, (b.value_j - a.value_j) / (b.t - a.t)) for a, b in zip(self.post, self.post[1:])
               if a.t >= t_end + FIT_SKIP_S]
        t = np.array([p[0] for p in pts]) - t_end
        p = np.array([p[1] for p in pts])
        best: tuple[float, Callable[[float], float]] | None = None
        for tau in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, math.inf):  # linear least squares per decay constant
            basis = np.ones_like(t) if math.isinf(tau) else np.exp(-t / tau)
            design = np.column_stack([np.ones_like(t), basis]) if not math.isinf(tau) else basis[:, None]
            coef, *_ = np.linalg.lstsq(design, p, rcond=None)
            resid = float(np.sqrt(np.mean((design @ coef - p) ** 2)))
            if best is None or resid < best[0] - 1e-9:
                if math.isinf(tau):
                    level = float(coef[0])
                    best = (resid, lambda x, level=level: level)
                else:
                    c0, c1 = float(coef[0]), float(coef[1])
                    best = (resid, lambda x, c0=c0, c1=c1, tau=tau: c0 + c1 * math.exp(-(x - t_end) / tau))
        assert best is not None
        return best[1], best[0]

    def energy(self, t0: float, t1: float) -> tuple[float, float]:
        """(energy_j, bound_j) of [t0, t1]: t0 after the last pre-pad step, t1 before the first post-pad one."""
        s_a = self.pre[-1]
        first = next(s for s in self.post if s.t > t1)
        p_pre, spread_pre = self._pre_power()
        model, resid = self._post_fit(t1)
        inside_post = np.linspace(t1, first.t, 9)
        post_power = float(np.mean([model(x) for x in inside_post]))
        second = next((s for s in self.post if s.t > first.t + 0.05), None)
        first_interval = (second.value_j - first.value_j) / (second.t - first.t) if second else post_power
        energy = (first.value_j - s_a.value_j) - p_pre * (t0 - s_a.t) - post_power * (first.t - t1)
        bound = (s_a.half * p_pre + first.half * first_interval + spread_pre * (t0 - s_a.t)
                 + (resid + abs(first_interval - model(first.t))) * (first.t - t1))
        return energy, bound


# --- the methods' windows --------------------------------------------------------------------------
@dataclass
class Reading:
    method: str
    t0: float
    t1: float
    energy_j: float | None
    bound_j: float | None = None
    note: str = ""


class SmiSampler:
    """The seed's sampler: one nvidia-smi power.draw sample a second (argv, no shell)."""

    def __init__(self, gpu: int) -> None:
        self.samples: list[tuple[float, float]] = []
        self._argv = ["nvidia-smi", "--query-gpu=power.draw", "--format=csv,noheader,nounits", "-i", str(gpu)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        start, k = time.monotonic(), 0
        while not self._stop.is_set():
            t_a = time.monotonic()
            try:
                out = subprocess.run(self._argv, capture_output=True, text=True, timeout=5, check=True).stdout
                self.samples.append(((t_a + time.monotonic()) / 2, float(out.strip().splitlines()[0])))
            except (OSError, subprocess.SubprocessError, ValueError, IndexError):
                pass
            k += 1
            self._stop.wait(max(0.0, start + k - time.monotonic()))

    def energy(self, t0: float, t1: float) -> float | None:
        return sum(w for t, w in list(self.samples) if t0 <= t <= t1) if self.samples else None

    def close(self) -> None:
        self._stop.set()


class ZeusPeer:
    """One ZeusMonitor for the whole run (as Zeus is used), a window per trial; no CUDA sync (the load
    runs in another process)."""

    name = "zeus"

    def __init__(self, monitor: Any, gpu_local_index: int) -> None:
        self._m = monitor
        self._gpu = gpu_local_index
        self._t0 = 0.0

    def begin(self) -> None:
        a = time.monotonic()
        self._m.begin_window("w", sync_execution=False)
        self._t0 = (a + time.monotonic()) / 2

    def end(self) -> Reading:
        a = time.monotonic()
        m = self._m.end_window("w", sync_execution=False)
        return Reading(self.name, self._t0, (a + time.monotonic()) / 2, float(m.gpu_energy[self._gpu]))


class CodeCarbonPeer:
    """OfflineEmissionsTracker with its default settings; its window starts where start() returns
    (the initial counter read is its last act) and ends where stop() is entered (its first act)."""

    name = "codecarbon"

    def __init__(self, gpu_local_index: int) -> None:
        self._tracker = self.tracker(gpu_local_index)
        self._t0 = 0.0

    @staticmethod
    def tracker(gpu_local_index: int) -> Any:
        from codecarbon import OfflineEmissionsTracker

        return OfflineEmissionsTracker(country_iso_code="USA", gpu_ids=[gpu_local_index], save_to_file=False,
                                       log_level="error", allow_multiple_runs=True)

    def begin(self) -> None:
        self._tracker.start()
        self._t0 = time.monotonic()

    def end(self) -> Reading:
        t1 = time.monotonic()
        self._tracker.stop()
        data = self._tracker.final_emissions_data
        return Reading(self.name, self._t0, t1, float(data.gpu_energy) * 3.6e6)


class MonitorProcess:
    """hyperwatt's sampler in its own process (as the engine runs it), answering `measure t0 t1`."""

    def __init__(self, gpu: int, rate_hz: float) -> None:
        self._proc = subprocess.Popen([sys.executable, __file__, "--monitor-proc", "--gpu", str(gpu), "--rate",
                                       str(rate_hz)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      bufsize=1)
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != "ready":
            raise SystemExit("hyperwatt's sampler process did not start")

    def edge(self) -> None:
        """A window edge just passed (no reply: the runner's own call does not wait either)."""
        assert self._proc.stdin is not None
        self._proc.stdin.write("edge\n")

    def measure(self, t0: float, t1: float) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(f"measure {t0!r} {t1!r}\n")
        return json.loads(self._proc.stdout.readline())

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.write("quit\n")
            self._proc.stdin.close()
        self._proc.wait(timeout=30)


def _estimate(est: Any) -> dict[str, Any]:
    """What the benchmark keeps of a window estimate: the figure, its bound and its health."""
    return {"energy_j": est.energy_j, "bound_j": est.uncertainty_j, "method": est.method, "partial": est.partial,
            "reason": est.reason, "samples": est.sample_count, "max_gap_s": est.max_gap_s}


def _measure(monitor: Monitor, t0: float, t1: float) -> dict[str, Any]:
    """hyperwatt's estimate of [t0, t1] and what it was made from (the GPU's samples around the window
    and the counter's locked period), so the estimate can be replayed offline with `window_energy`."""
    name, est = next(iter(monitor.measure(t0, t1).items()))
    ctx = monitor.samples(name, t0 - CONTEXT_S, t1 + CONTEXT_S)
    counter = monitor.stats().counters.get(name)
    return {**_estimate(est), "timeline": {
        "period_s": counter.period_s if counter is not None and counter.mode in ("locked", "fine") else None,
        "nominal_interval_s": 1 / monitor.rate_hz,
        "mode": counter.mode if counter is not None else None,
        "samples": [(s.t_mono, s.energy_j, s.power_w, s.read_latency_s, s.error) for s in ctx]}}


def monitor_proc(gpu: int, rate_hz: float) -> None:
    sensors = discover(gpu_indices=[gpu], cpu=False)
    monitor = Monitor(sensors, rate_hz=rate_hz, lock_interval_s=SensorSettings().lock_interval_s)
    monitor.start()
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "edge":
            monitor.sample_now()
            continue
        print(json.dumps(_measure(monitor, float(cmd[1]), float(cmd[2]))), flush=True)
    monitor.stop()
    sensors.close()


# --- backends --------------------------------------------------------------------------------------
class GpuRig:
    """A real GPU: the load worker, NVML for the reference, nvidia-smi at 1 Hz, the peers."""

    fake = False

    def __init__(self, gpu: int, dtype: str, rate_hz: float, variant: str, peers: list[str], smi: bool = True) -> None:
        import pynvml

        self._nvml = pynvml
        pynvml.nvmlInit()
        self._h = pynvml.nvmlDeviceGetHandleByIndex(gpu)
        self.device = f"{pynvml.nvmlDeviceGetName(self._h)} (index {gpu}, driver {pynvml.nvmlSystemGetDriverVersion()})"
        os.environ.update(CUDA_DEVICE_ORDER="PCI_BUS_ID", CUDA_VISIBLE_DEVICES=str(gpu))  # the peers' GPU 0
        self._worker = subprocess.Popen([sys.executable, str(Path(__file__).with_name("energy_accuracy.py")),
                                         "--worker", "--dtype", dtype], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        assert self._worker.stdout is not None
        if self._worker.stdout.readline().strip() != "ready":
            raise SystemExit("the GPU worker did not start (see its stderr above)")
        self.variant = variant
        self.peers = peers
        self.notes: list[str] = []
        self._zeus: Any = None
        if "zeus" in peers:
            try:
                from zeus.monitor import ZeusMonitor

                self._zeus = ZeusMonitor(gpu_indices=[0], cpu_indices=[])
            except Exception as exc:  # an optional peer that cannot start is a note, not a failure
                self.notes.append(f"zeus: {type(exc).__name__}: {exc}")
        if "codecarbon" in peers:  # its first start() in a process detects the hardware (seconds): not in a window
            try:
                warm = CodeCarbonPeer.tracker(0)
                warm.start()
                warm.stop()
            except Exception as exc:
                self.notes.append(f"codecarbon: {type(exc).__name__}: {exc}")
        self.smi = SmiSampler(gpu) if smi else None
        self.monitor: Monitor | None = None
        self.mproc: MonitorProcess | None = None
        if variant == "inproc":
            self.sensors = discover(gpu_indices=[gpu], cpu=False)
            self.monitor = Monitor(self.sensors, rate_hz=rate_hz, lock_interval_s=SensorSettings().lock_interval_s)
            self.monitor.start()
        else:
            self.mproc = MonitorProcess(gpu, rate_hz)

    def now(self) -> float:
        return time.monotonic()

    def counter_j(self) -> float:
        return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._h) / 1000

    def read_burst(self, duration_s: float) -> list[tuple[float, float, float]]:
        """Counter reads READ_INTERVAL_S apart (not back to back: hammering the counter from another
        process broke hyperwatt's phase lock in the 2026-12-03 run, see docs/benchmarks.md)."""
        end = time.monotonic() + duration_s
        reads = []
        while True:
            a = time.monotonic()
            v = self.counter_j()
            b = time.monotonic()
            reads.append((a, b, v))
            if b >= end:
                return reads
            time.sleep(max(0.0, a + READ_INTERVAL_S - time.monotonic()))

    def read_burst_while(self, duration_s: float, during: Callable[[], None]) -> list[tuple[float, float, float]]:
        """The post pad's reads start at once, in a thread, while `during` (the peers closing their
        windows: CodeCarbon's stop takes a while) runs: the first step after the load is located
        within one read interval instead of after the peers, so the reference models at most one
        counter interval after the window instead of extrapolating its fit over the peers' stops."""
        out: list[list[tuple[float, float, float]]] = []
        reader = threading.Thread(target=lambda: out.append(self.read_burst(duration_s)), daemon=True)
        reader.start()
        try:
            during()
        finally:
            reader.join()
        return out[0]

    def load(self, case: Case) -> None:
        assert self._worker.stdin is not None and self._worker.stdout is not None
        cmd = f"burst {case.duration_s}" if case.kind == "burst" else f"onoff {case.duration_s} {case.on_s} {case.off_s}"
        self._worker.stdin.write(cmd + "\n")
        reply = self._worker.stdout.readline().split()
        if not reply or reply[0] != "done":
            raise SystemExit(f"the GPU worker failed during {case.name}")

    def make_peers(self) -> tuple[list[Any], list[str]]:
        made: list[Any] = [ZeusPeer(self._zeus, 0)] if self._zeus is not None else []
        notes = list(self.notes)
        if "codecarbon" in self.peers and not any(n.startswith("codecarbon") for n in notes):
            try:
                made.append(CodeCarbonPeer(0))
            except Exception as exc:
                notes.append(f"codecarbon: {type(exc).__name__}: {exc}")
        return made, notes

    def edge(self) -> None:
        if self.mproc is not None:
            self.mproc.edge()
        else:
            assert self.monitor is not None
            self.monitor.sample_now()

    def hyperwatt(self, t0: float, t1: float) -> dict[str, Any]:
        if self.mproc is not None:
            return self.mproc.measure(t0, t1)
        assert self.monitor is not None
        return _measure(self.monitor, t0, t1)

    def seed_j(self, t0: float, t1: float) -> float | None:
        return self.smi.energy(t0, t1) if self.smi is not None else None

    def true_j(self, t0: float, t1: float) -> float | None:
        return None

    def close(self) -> None:
        if self.smi is not None:
            self.smi.close()
        if self.monitor is not None:
            self.monitor.stop()
            self.sensors.close()
        if self.mproc is not None:
            self.mproc.close()
        if self._worker.stdin is not None:
            self._worker.stdin.write("quit\n")
            self._worker.stdin.close()
        self._worker.wait(timeout=30)
        self._nvml.nvmlShutdown()


class FakeRig(FakeBackend):
    """The simulated GPU of energy_accuracy.py on a fake clock; no peers (they need a real GPU)."""

    fake = True
    variant = "inproc"

    def read_burst(self, duration_s: float) -> list[tuple[float, float, float]]:
        end = self.now() + duration_s
        reads = []
        while True:
            a = self.now()
            v = self.gpu.counter_mj(a) / 1000
            self.monitor.run_for(self.gpu.counter_read_cost_s)  # the read's cost, with the sampler running
            b = self.now()
            reads.append((a, b, v))
            if b >= end:
                return reads

    WARM_IDLE_W, WARM_DECAY_S = 6.0, 1.5  # the GPU idles warmer after a load, decaying back

    def load(self, case: Case) -> None:
        """The load, its ramp-down inside the window (the worker answers once the GPU is idle again),
        then a warmer idle decaying back to the cold level, as the H200 shows after a load."""
        super().load(case)
        end = self.now() + self.RAMP_DOWN_S
        self.monitor.run_for(self.RAMP_DOWN_S)
        decay = [(end + k * 0.1, self.IDLE_W + self.WARM_IDLE_W * math.exp(-k * 0.1 / self.WARM_DECAY_S))
                 for k in range(1, 41)]
        self.curve.add([(end + 0.01, self.IDLE_W + self.WARM_IDLE_W), *decay, (end + 4.2, self.IDLE_W)])

    def make_peers(self) -> tuple[list[Any], list[str]]:
        return [], []

    def read_burst_while(self, duration_s: float, during: Callable[[], None]) -> list[tuple[float, float, float]]:
        during()  # no peers on the fake GPU; the fake clock moves only when told
        return self.read_burst(duration_s)

    def edge(self) -> None:
        self.monitor.sample_now()

    def hyperwatt(self, t0: float, t1: float) -> dict[str, Any]:
        return _measure(self.monitor, t0, t1)


# --- one trial ---------------------------------------------------------------------------------------
@dataclass
class Trial:
    variant: str
    case: str
    repeat: int
    duration_s: float
    readings: list[Reading]
    reference: dict[str, tuple[float, float]]  # method -> (reference_j, reference_bound_j) on its edges
    errors_pct: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    true_j: float | None = None
    #: the reference's located pad steps (t, half, value after), so the reference can be re-derived offline
    pad_steps: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    #: hyperwatt's GPU samples around the window (t, energy_j, power_w, read_latency_s, error) and its
    #: counter period: its estimate can be replayed offline (kept in peers.timelines.json)
    timeline: dict[str, Any] = field(default_factory=dict, repr=False)


def run_trial(rig: Any, case: Case, repeat: int) -> Trial:
    peers, notes = rig.make_peers()  # built before the pads: their set-up is never inside a window
    pre = locate_steps(rig.read_burst(PRE_PAD_S))
    t0 = rig.now()
    e0 = rig.counter_j()
    rig.edge()  # as the engine tells its sampler when a training starts and exits (Zeus: begin/end_window)
    for peer in peers:
        peer.begin()
    rig.load(case)
    t1 = rig.now()
    e1 = rig.counter_j()
    rig.edge()
    readings = [Reading("counter_at_edges", t0, t1, e1 - e0)]

    def close_peers() -> None:
        for peer in reversed(peers):
            readings.append(peer.end())

    post = locate_steps(rig.read_burst_while(POST_PAD_S, close_peers))
    hw = rig.hyperwatt(t0, t1)
    note = "" if not hw["partial"] else f"partial: {hw['reason']}"
    note += f"{'; ' if note else ''}{hw['samples']} samples, largest gap {hw['max_gap_s'] or 0:.3f} s"
    readings += [Reading("hyperwatt", t0, t1, hw["energy_j"], hw["bound_j"], note),
                 Reading("seed_nvidia_smi_1hz", t0, t1, rig.seed_j(t0, t1))]
    ref = Reference(pre, post)
    trial = Trial(rig.variant, case.name, repeat, t1 - t0, readings, {}, notes=notes, true_j=rig.true_j(t0, t1),
                  pad_steps={"pre": [(s.t, s.half, s.value_j) for s in pre],
                             "post": [(s.t, s.half, s.value_j) for s in post]},
                  timeline={"t0": t0, "t1": t1, **hw["timeline"]})
    for r in readings:
        ref_j, ref_bound = ref.energy(r.t0, r.t1)
        trial.reference[r.method] = (ref_j, ref_bound)
        trial.errors_pct[r.method] = None if r.energy_j is None else 100 * (r.energy_j - ref_j) / ref_j
    return trial


# --- summary -------------------------------------------------------------------------------------------
def summarize(trials: list[Trial]) -> list[dict[str, Any]]:
    rows = []
    for variant in dict.fromkeys(t.variant for t in trials):
        for case in CASES:
            mine = [t for t in trials if t.variant == variant and t.case == case.name]
            if not mine:
                continue
            row: dict[str, Any] = {"variant": variant, "case": case.name, "target_pct": case.target_pct,
                                   "repeats": len(mine)}
            for m in METHODS:
                errs = [t.errors_pct[m] for t in mine if t.errors_pct.get(m) is not None]
                row[m] = {"mean_pct": statistics.fmean(errs) if errs else None,
                          "max_abs_pct": max(abs(e) for e in errs) if errs else None}
            ref_bounds = [100 * b / r for t in mine for r, b in [t.reference["hyperwatt"]]]
            row["reference_bound_pct"] = max(ref_bounds)
            worst = row["hyperwatt"]["max_abs_pct"]
            row["meets_target"] = worst is not None and worst <= case.target_pct
            peers = [row[p]["max_abs_pct"] for p in PEERS if row[p]["max_abs_pct"] is not None]
            row["beats_peers"] = None if not peers else worst is not None and all(worst < p for p in peers)
            rows.append(row)
    return rows


def bound_coverage(trials: list[Trial]) -> dict[str, Any]:
    """How often hyperwatt's stated bound (plus the reference's) covers its error; why it did not."""
    outside: list[dict[str, Any]] = []
    partial: list[dict[str, Any]] = []
    n = 0
    for t in trials:
        hw = next(r for r in t.readings if r.method == "hyperwatt")
        if hw.energy_j is None or hw.bound_j is None:
            continue
        if hw.note.startswith("partial"):
            partial.append({"variant": t.variant, "case": t.case, "repeat": t.repeat, "reason": hw.note})
            continue
        n += 1
        ref_j, ref_bound = t.reference["hyperwatt"]
        err = hw.energy_j - ref_j
        if abs(err) > hw.bound_j + ref_bound:
            outside.append({"variant": t.variant, "case": t.case, "repeat": t.repeat, "error_j": err,
                            "bound_j": hw.bound_j, "reference_bound_j": ref_bound,
                            "too_small": ("the edge term (power assumed within an edge's counter interval)"
                                          if abs(err) > ref_bound else "the reference's own bound")})
    return {"trials": n, "covered": n - len(outside), "share": (n - len(outside)) / n if n else None,
            "outside": outside, "partial": partial}


def _cell(stats: dict[str, float | None]) -> str:
    mean, worst = stats["mean_pct"], stats["max_abs_pct"]
    return "—" if worst is None else f"{worst:.2f} ({mean:+.2f})"


def table(rows: list[dict[str, Any]], coverage: dict[str, Any], device: str, notes: list[str]) -> str:
    lines = [f"Side by side on {device}: worst |error| (mean error) in % against the counter reference, "
             "each method on its own window edges", ""]
    for variant in dict.fromkeys(r["variant"] for r in rows):
        what = ("hyperwatt's sampler in its own process, as the engine runs it" if variant == "engine"
                else "hyperwatt's sampler thread in the same process as the peers")
        lines += [f"**{variant}** — {what}", "",
                  "| case | seed 1 Hz nvidia-smi sum | counter at edges | Zeus | CodeCarbon | hyperwatt | target "
                  "| meets | beats Zeus and CodeCarbon | reference bound |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r["variant"] == variant):
            beats = {None: "— (peers absent)", True: "yes", False: "NO"}[r["beats_peers"]]
            lines.append(f"| {r['case']} ×{r['repeats']} | " + " | ".join(_cell(r[m]) for m in METHODS) +
                         f" | ≤{r['target_pct']:g} | {'yes' if r['meets_target'] else 'NO'} | {beats} "
                         f"| ±{r['reference_bound_pct']:.3f} |")
        lines.append("")
    share = coverage["share"]
    lines.append(f"hyperwatt's stated bound covered its error in {coverage['covered']}/{coverage['trials']} trials"
                 f" ({'—' if share is None else f'{100 * share:.0f} %'}; the goal is ≥ 95 %).")
    if coverage["partial"]:
        lines.append(f"{len(coverage['partial'])} hyperwatt estimate(s) were flagged partial (the engine flags such an "
                     "experiment `energy_partial` and the report leaves its energy out); they are in the error "
                     "columns but not in this count:")
        lines += [f"- partial: {p['variant']} {p['case']} #{p['repeat'] + 1}: {p['reason']}" for p in coverage["partial"]]
    for o in coverage["outside"]:
        lines.append(f"- outside: {o['variant']} {o['case']} #{o['repeat'] + 1}: error {o['error_j']:+.2f} J, "
                     f"bound ±{o['bound_j']:.2f} J, reference ±{o['reference_bound_j']:.2f} J → too small: "
                     f"{o['too_small']}")
    lines += [f"- note: {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _trial_json(t: Trial) -> dict[str, Any]:
    """A trial as peers.json keeps it (its timeline goes to peers.timelines.json)."""
    d = asdict(t)
    d.pop("timeline")
    return d


def _save_partial(out: Path, trials: list[Trial]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "peers.partial.json").write_text(json.dumps([_trial_json(t) for t in trials], default=float))


def replay(run_dir: Path) -> tuple[list[Trial], str, list[str]]:
    """A recorded run's trials with hyperwatt's estimates made again, from the samples it recorded,
    by this checkout's estimator (the other methods' readings and the reference are as recorded)."""
    recorded = json.loads((run_dir / "peers.json").read_text())
    timelines = json.loads((run_dir / "peers.timelines.json").read_text())
    info = SensorInfo(name="gpu0", domain="gpu", method="nvml-energy-counter", device=recorded["device"],
                      update_period_s=NOMINAL_UPDATE_S, resolution_j=0.001)
    trials = []
    keys = [[(x["variant"], x["case"], x["repeat"]) for x in xs] for xs in (recorded["trials"], timelines)]
    if keys[0] != keys[1]:
        raise SystemExit(f"{run_dir}: peers.json and peers.timelines.json hold different trials (not one run?)")
    for d, tl in zip(recorded["trials"], timelines):
        samples = [Sample("gpu0", t, 0.0, power_w=p, energy_j=e, read_latency_s=lat, error=err)
                   for t, e, p, lat, err in tl["samples"]]
        est = window_energy(samples, info, tl["t0"], tl["t1"], period_s=tl["period_s"],
                           nominal_interval_s=tl.get("nominal_interval_s", 0.05))  # runs before it: 20 Hz
        readings = [Reading(**r) for r in d["readings"]]
        for i, r in enumerate(readings):
            if r.method == "hyperwatt":
                note = "" if not est.partial else f"partial: {est.reason}"
                readings[i] = Reading("hyperwatt", r.t0, r.t1, est.energy_j, est.uncertainty_j, note)
        ref_j = d["reference"]["hyperwatt"][0]
        errors = dict(d["errors_pct"], hyperwatt=None if est.energy_j is None else 100 * (est.energy_j - ref_j) / ref_j)
        trials.append(Trial(d["variant"], d["case"], d["repeat"], d["duration_s"], readings,
                            {m: tuple(v) for m, v in d["reference"].items()}, errors, d["notes"], d["true_j"],
                            d["pad_steps"]))
    notes = [*recorded["notes"], f"hyperwatt replayed by this checkout from the samples recorded in {run_dir}"]
    return trials, recorded["device"], notes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path)
    p.add_argument("--gpu", type=int, default=0, help="NVML (nvidia-smi) index")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rate", type=float, default=20.0, help="hyperwatt sampler rate, Hz")
    p.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16")
    p.add_argument("--cases", default=",".join(c.name for c in CASES), help="comma-separated subset")
    p.add_argument("--variants", default="engine,inproc", help="engine, inproc or both (GPU only)")
    p.add_argument("--peers", default=",".join(PEERS), help="peers to run beside hyperwatt (GPU only)")
    p.add_argument("--no-smi", action="store_true", help="leave the seed's 1 Hz nvidia-smi sampler out (GPU only)")
    p.add_argument("--fake", action="store_true", help="simulated GPU on a fake clock (no GPU; peers skipped)")
    p.add_argument("--replay", type=Path, metavar="RUN_DIR",
                   help="make hyperwatt's estimates of a recorded run (its peers.json and peers.timelines.json) "
                        "again with this checkout's estimator, and print the tables (no GPU)")
    p.add_argument("--monitor-proc", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.monitor_proc:
        monitor_proc(args.gpu, args.rate)
        return 0
    if args.replay is not None:
        trials, device, notes = replay(args.replay)
        text = table(summarize(trials), bound_coverage(trials), device, notes)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "peers.md").write_text(text)
        print(text)
        return 0
    if args.out is None:
        p.error("--out is required")
    cases = [c for c in CASES if c.name in args.cases.split(",")]
    notes: list[str] = []
    peers = [x for x in args.peers.split(",") if x]
    if args.fake:
        variants = ["inproc"]
        notes.append("simulated GPU: Zeus and CodeCarbon need a real GPU and were not run; the engine variant "
                     "needs a real clock shared between processes and was not run")
    else:
        variants = [v for v in args.variants.split(",") if v]
        for name in list(peers):
            try:
                __import__("zeus.monitor" if name == "zeus" else "codecarbon")
            except ImportError as exc:
                notes.append(f"{name} skipped: not installed ({exc}); `pip install -e '.[bench]'`")
                peers.remove(name)
    started = time.monotonic()
    trials: list[Trial] = []
    device = ""
    for variant in variants:
        rig: Any = FakeRig(args.rate) if args.fake else GpuRig(args.gpu, args.dtype, args.rate, variant, peers,
                                                                       smi=not args.no_smi)
        device = rig.device
        try:
            for r in range(args.repeats):
                for case in cases[r % len(cases):] + cases[:r % len(cases)]:  # rotate the order against drift
                    t = run_trial(rig, case, r)
                    trials.append(t)
                    notes += [n for n in t.notes if n not in notes]
                    _save_partial(args.out, trials)  # a run cut short keeps what it measured
                    hw_note = next(x.note for x in t.readings if x.method == "hyperwatt")
                    print(f"{variant} {t.case} #{r + 1}: errors % " + ", ".join(
                        f"{m} {'—' if e is None else f'{e:+.3f}'}" for m, e in t.errors_pct.items()) +
                        f" | hyperwatt: {hw_note}", file=sys.stderr, flush=True)
        finally:
            rig.close()
    rows = summarize(trials)
    coverage = bound_coverage(trials)
    result = {"device": device, "fake": args.fake, "wall_s": time.monotonic() - started, "summary": rows,
              "bound_coverage": coverage, "notes": notes, "trials": [_trial_json(t) for t in trials]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.json").write_text(json.dumps(result, indent=2, default=float))
    (args.out / "peers.timelines.json").write_text(json.dumps(
        [{"variant": t.variant, "case": t.case, "repeat": t.repeat, **t.timeline} for t in trials]))
    text = table(rows, coverage, device, notes)
    (args.out / "peers.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
