#!/usr/bin/env python3
"""Lifecycle costs of parallel mode, against the seed's fixed waits (30 s start-up, 60 s sleep).

1. Stop latency over N stops of backgrounds that really hold and load the GPU. A pool of `--pool`
   BackgroundLoops (tokens hw-lifecycle-<i>), each running a CUDA matmul loop, is started ahead so
   their CUDA start-ups overlap. A member is stopped only once judged on the GPU and loading: it
   printed its ready line after a first synchronised matmul, one of its pids is in NVML's
   compute-process list, and the GPU is busy (utilisation > 0). Stops run strictly one at a time,
   at least `--settle-s` apart and only after `--min-load-s` of loading, each with the engine's grace (50 ms) through BackgroundLoop.stop;
   the latency is until the whole tree is gone. The pool is refilled after each stop, so the other
   members are on the GPU during a stop: each stop records how many (`others_on_gpu`), whether
   SIGKILL was needed and how long the stopped one had been loading. Each stop is appended to
   DIR/lifecycle_stops.jsonl as it happens; on SIGINT/SIGTERM or an error every member is stopped
   and the summary of the stops done so far is still written (exit status 1).
   `--fake` smoke-tests the pipelining without a GPU: a sleep-loop Python script as background,
   judged by its ready line alone, no NVML.
2. From a finished parallel session (`--results DIR --session ID`, e.g. the parallel feasibility
   run): readiness time per experiment vs the seed's blind 30 s; non-training overhead per
   experiment (everything but the foreground's own run time: baseline, readiness, stop, checks,
   cooldown) vs the seed's 30 s + 60 s; and each experiment's start temperature vs the session's
   idle reference (target: within 2 °C).

GPU:  PYTHONPATH=src python3 benchmarks/lifecycle.py --out DIR [--stops 50] [--pool 4] [--results R --session S]
Fake: PYTHONPATH=src python3 benchmarks/lifecycle.py --out DIR --stops 10 --fake
Writes DIR/lifecycle_stops.jsonl, DIR/lifecycle.json and DIR/lifecycle.md and prints the tables last.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hyperwatt.process import BackgroundLoop, kill_tagged, last_line
from hyperwatt.sensors import discover
from hyperwatt.sensors.base import GpuSensor

READY = "hw-lifecycle ready"
LOAD = f"""
import torch
x = torch.randn(4096, 4096, device="cuda")
x = x @ x
torch.cuda.synchronize()
print({READY!r}, flush=True)
while True:
    x = x @ x
    x = x / x.norm()
"""
FAKE_STARTUP_S = 1.0  # the fake background's stand-in for CUDA start-up
FAKE_LOAD = f"""
import time
time.sleep({FAKE_STARTUP_S})
print({READY!r}, flush=True)
while True:
    time.sleep(0.05)
"""
GRACE_S = 0.05  # the engine's stop grace
READY_TIMEOUT_S = 60.0
POLL_S = 0.05
SWEEP_GRACE_S = 1.0  # kill_tagged's grace when cleaning up after an interruption
SEED_STARTUP_S = 30.0
SEED_SLEEP_S = 60.0


def pctl(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


@dataclass
class Member:
    """One pool member: a started BackgroundLoop and when it was judged on the GPU and loading."""

    index: int
    token: str
    loop: BackgroundLoop
    started_mono: float
    ready_mono: float | None = None

    def pids(self) -> set[int]:
        return set(self.loop.live_pids())

    def check_alive(self) -> None:
        """Raise if its first run ended (a crash: the loop would restart it)."""
        runs = self.loop.runs
        if len(runs) != 1 or runs[0].exit_code is not None:
            raise RuntimeError(f"background {self.index} exited before its stop; "
                               f"log: {last_line(runs[0].log_path)!r}")


@dataclass
class Interrupt:
    """The name of the SIGINT/SIGTERM that came, if one did."""

    signal: str | None = None


@contextmanager
def catch_signals() -> Iterator[Interrupt]:
    """Turn SIGINT/SIGTERM into a flag the stop loop polls, so no stop is cut in half."""
    interrupt = Interrupt()

    def note(signum: int, frame: FrameType | None) -> None:
        interrupt.signal = signal.Signals(signum).name

    old = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield interrupt
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class StopBench:
    """The pipelined stop-latency benchmark (see the module docstring, part 1)."""

    def __init__(self, n: int, out: Path, gpu: GpuSensor | None, env: dict[str, str], pool: int,
                 settle_s: float, script: Path, interrupt: Interrupt, min_load_s: float = 1.0) -> None:
        self.n, self.out, self.gpu, self.env = n, out, gpu, env
        self.pool, self.settle_s, self.script, self.interrupt = pool, settle_s, script, interrupt
        self.min_load_s = min_load_s  # a background is stopped in its training, not its CUDA start-up
        self.members: list[Member] = []
        self.started = 0
        self.rows: list[dict[str, Any]] = []

    def run(self, fh: IO[str]) -> None:
        """Stop n members one at a time, appending each stop to fh; returns early on a signal."""
        not_before = 0.0
        while len(self.rows) < self.n:
            while len(self.members) < self.pool and self.started < self.n:
                self._start()
            found = self._next_ready(not_before)
            if found is None:
                return
            member, ready_mono = found
            others = self._others_on_gpu(member)
            loading_s = time.monotonic() - ready_mono
            result = member.loop.stop(grace_s=GRACE_S)
            not_before = time.monotonic() + self.settle_s
            self.members.remove(member)
            row = {"stop": len(self.rows) + 1, "token": member.token, "latency_ms": 1000 * result.latency_s,
                   "sigkill": result.escalated, "others_on_gpu": others, "loading_s": loading_s,
                   "time_to_gpu_s": ready_mono - member.started_mono, "survivors": result.survivors}
            self.rows.append(row)
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            if result.survivors:
                raise RuntimeError(f"stop of {member.token}: survivors {result.survivors}")

    def cleanup(self) -> None:
        """Stop every member still in the pool, then sweep their tokens."""
        for member in self.members:
            member.loop.stop(grace_s=GRACE_S)
            kill_tagged(member.token, SWEEP_GRACE_S)
        self.members.clear()

    def _start(self) -> None:
        token = f"hw-lifecycle-{self.started}"
        log_dir = self.out / "stops" / token
        for old in log_dir.glob("run-*.log"):  # spawn appends: a previous run's ready line must not count
            old.unlink()
        loop = BackgroundLoop([sys.executable, str(self.script)], cwd=self.out, env=self.env, log_dir=log_dir,
                              token=token, min_run_s=60.0)
        self.members.append(Member(self.started, token, loop, time.monotonic()))  # cleanup covers a failed start
        self.started += 1
        loop.start()

    def _next_ready(self, not_before: float) -> tuple[Member, float] | None:
        """The earliest-started member judged on the GPU and loading, with when it was judged so,
        once not_before has passed; None once a signal came."""
        while self.interrupt.signal is None:
            self._judge()
            ready = next(((m, m.ready_mono) for m in self.members if m.ready_mono is not None), None)
            now = time.monotonic()
            due = None if ready is None else max(not_before, ready[1] + self.min_load_s)
            if ready is not None and due is not None and now >= due:
                ready[0].check_alive()
                return ready
            time.sleep(POLL_S if due is None else max(0.0, min(POLL_S, due - now)))
        return None

    def _judge(self) -> None:
        """Mark the members that are now on the GPU and loading (today's rule, per pid)."""
        on_gpu = self._gpu_pids()
        busy = self.gpu is None or (self.gpu.read(counter=False, aux=False).util_pct or 0) > 0
        now = time.monotonic()
        for m in self.members:
            if m.ready_mono is not None:
                continue
            log = m.loop.runs[-1].log_path
            if busy and last_line(log) == READY and (on_gpu is None or m.pids() & on_gpu):
                m.ready_mono = now
            elif now - m.started_mono > READY_TIMEOUT_S:
                raise RuntimeError(f"background {m.index} not on the GPU and loading after "
                                   f"{READY_TIMEOUT_S:.0f} s; log: {last_line(log)!r}")
            else:
                m.check_alive()

    def _gpu_pids(self) -> set[int] | None:
        """Pids in NVML's compute-process list; None in fake mode."""
        return None if self.gpu is None else {p.pid for p in self.gpu.processes()}

    def _others_on_gpu(self, member: Member) -> int:
        """Other members alive on the GPU (fake: alive) right now."""
        on_gpu = self._gpu_pids()
        return sum(1 for m in self.members
                   if m is not member and (pids := m.pids()) and (on_gpu is None or pids & on_gpu))


def stop_latencies(n: int, out: Path, gpu_index: int, pool: int = 4, settle_s: float = 0.3,
                   fake: bool = False, min_load_s: float = 1.0) -> dict[str, Any]:
    """Run the stop benchmark (module docstring, part 1) and summarise the stops done."""
    sensors = None if fake else discover(gpu_indices=[gpu_index], cpu=False)
    gpu = sensors.gpus()[0] if sensors is not None and sensors.gpus() else None
    if sensors is not None and gpu is None:
        sensors.close()
        reasons = "; ".join(f"{u.name}: {u.reason}" for u in sensors.unavailable) or "none found"
        raise SystemExit(f"no GPU {gpu_index} through NVML ({reasons}); --fake runs without one")
    script = out / "load.py"
    script.write_text(FAKE_LOAD if fake else LOAD)
    env = dict(os.environ) if fake else _env(gpu_index)
    error = None
    t0 = time.monotonic()
    with catch_signals() as interrupt, (out / "lifecycle_stops.jsonl").open("w") as fh:
        bench = StopBench(n, out, gpu, env, pool, settle_s, script, interrupt, min_load_s)
        try:
            bench.run(fh)
        except Exception as exc:  # noqa: BLE001 - reported in the summary, which is still written
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}"
        finally:
            bench.cleanup()
            if sensors is not None:
                sensors.close()
    return summarise(bench.rows, n, pool=pool, settle_s=settle_s, min_load_s=min_load_s, wall_s=time.monotonic() - t0, fake=fake,
                     gpu=gpu.info.device if gpu is not None else "no GPU",
                     interrupted=interrupt.signal, error=error)


def summarise(rows: list[dict[str, Any]], requested: int, **info: Any) -> dict[str, Any]:
    """Percentiles and counts over the stop rows, with the run's settings and outcome in info."""
    s: dict[str, Any] = {"n": len(rows), "requested": requested, "grace_ms": 1000 * GRACE_S, **info}
    if rows:
        lat = [r["latency_ms"] for r in rows]
        others = [r["others_on_gpu"] for r in rows]
        s |= {"p50_ms": pctl(lat, 0.5), "p99_ms": pctl(lat, 0.99), "max_ms": max(lat),
              "mean_ms": statistics.fmean(lat), "sigkill_needed": sum(r["sigkill"] for r in rows),
              "mean_time_to_gpu_s": statistics.fmean(r["time_to_gpu_s"] for r in rows),
              "mean_loading_s": statistics.fmean(r["loading_s"] for r in rows),
              "min_loading_s": min(r["loading_s"] for r in rows),
              "others_on_gpu_min": min(others), "others_on_gpu_max": max(others)}
    return s


def _env(gpu_index: int) -> dict[str, str]:
    return {**os.environ, "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": str(gpu_index)}


def session_overheads(results: Path, session: str) -> dict[str, Any]:
    rows = []
    ref_temp = None
    recs = sorted((json.loads(p.read_text()) for p in (results / session).glob("*/experiment.json")),
                  key=lambda r: r["started_wall"])
    latest = {r["slot"]: r["experiment_id"] for r in recs}  # a resumed slot's rerun supersedes the first run
    for rec in recs:
        if rec["mode"] != "parallel" or latest[rec["slot"]] != rec["experiment_id"]:
            continue
        base = next((v for k, v in rec["energy"].get("idle_baseline", {}).items() if k.startswith("gpu")), {})
        temp = base.get("temp_c")
        ref_temp = temp if ref_temp is None else ref_temp
        fg = rec.get("duration_s") or 0.0
        cooldown = (rec.get("cooldown") or {}).get("duration_s") or 0.0
        total = (rec["ended_wall"] - rec["started_wall"]) + cooldown
        bg = rec.get("background") or {}
        stop = bg.get("stop") or {}
        rows.append({
            "experiment": rec["experiment_id"], "status": rec["status"],
            "readiness_s": (bg.get("readiness") or {}).get("waited_s"),
            "foreground_s": fg, "overhead_s": total - fg, "cooldown_s": cooldown,
            "start_temp_c": temp, "coverage": bg.get("coverage"),
            "stop_latency_ms": 1000 * (stop.get("latency_s") or 0.0),
            "stop_delay_ms": 1000 * _stop_delay_s(rec),
        })
    for row in rows:
        t = row["start_temp_c"]
        row["start_vs_idle_c"] = None if t is None or ref_temp is None else t - ref_temp
    ready = [r["readiness_s"] for r in rows if r["readiness_s"] is not None]
    over = [r["overhead_s"] for r in rows]
    return {
        "experiments": rows,
        "readiness_mean_s": statistics.fmean(ready) if ready else None,
        "readiness_max_s": max(ready) if ready else None,
        "overhead_mean_s": statistics.fmean(over) if over else None,
        "seed_overhead_s": SEED_STARTUP_S + SEED_SLEEP_S,
        "idle_reference_temp_c": ref_temp,
        "within_2c": sum(1 for r in rows if r["start_vs_idle_c"] is not None and abs(r["start_vs_idle_c"]) <= 2.0),
    }


def _stop_delay_s(rec: dict[str, Any]) -> float:
    """From the foreground's exit until the background was gone (records before the field: from
    the window's end to the last background run's recorded end)."""
    bg = rec.get("background") or {}
    stop, runs = bg.get("stop") or {}, bg.get("runs") or []
    if stop.get("after_foreground_s") is not None:
        return stop["after_foreground_s"]
    end = rec["energy"].get("window_end_wall")
    if end is not None and runs and runs[-1].get("ended_wall") is not None:
        return runs[-1]["ended_wall"] - end
    return stop.get("latency_s") or 0.0


def markdown(result: dict[str, Any]) -> str:
    lines: list[str] = []
    s = result.get("stops")
    if s:
        lines += _stops_markdown(s)
    o = result.get("session")
    if o:
        lines += [(f"Readiness: mean {o['readiness_mean_s']:.1f} s, max {o['readiness_max_s']:.1f} s (seed: a blind "
                   f"{SEED_STARTUP_S:.0f} s). Non-training overhead per experiment: mean {o['overhead_mean_s']:.1f} s "
                   f"(seed: {o['seed_overhead_s']:.0f} s). Start temperature within 2 °C of the idle reference "
                   f"({o['idle_reference_temp_c']} °C): {o['within_2c']}/{len(o['experiments'])}."), "",
                  "| experiment | status | readiness | foreground | overhead | cooldown | start temp Δ | coverage "
                  "| background gone after the foreground | stop |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in o["experiments"]:
            lines.append(f"| {r['experiment']} | {r['status']} | {_f(r['readiness_s'])} s | {_f(r['foreground_s'])} s | "
                         f"{_f(r['overhead_s'])} s | {_f(r['cooldown_s'])} s | {_f(r['start_vs_idle_c'])} °C | "
                         f"{_f(100 * r['coverage'] if r['coverage'] is not None else None)} % | "
                         f"{_f(r['stop_delay_ms'])} ms | {_f(r['stop_latency_ms'])} ms |")
    return "\n".join(lines) + "\n"


def _stops_markdown(s: dict[str, Any]) -> list[str]:
    what = "fake CPU sleep-loop backgrounds" if s["fake"] else "GPU-loading backgrounds"
    head = (f"Stop latency over {s['n']} stops (of {s['requested']} asked) of {what} ({s['gpu']}), "
            f"grace {s['grace_ms']:.0f} ms, pool of {s['pool']}, stops one at a time >= {s['settle_s']:g} s apart, "
            f"{s['wall_s']:.0f} s wall.")
    if s["interrupted"] or s["error"]:
        head += f" Incomplete: {s['interrupted'] or s['error']}."
    lines = [head, ""]
    if s["n"]:
        lines += [(f"Other backgrounds on the GPU{' (alive)' if s['fake'] else ''} during each stop: "
                   f"{s['others_on_gpu_min']}-{s['others_on_gpu_max']}. Loading before its stop: mean "
                   f"{s['mean_loading_s']:.1f} s, min {s['min_loading_s']:.1f} s."), "",
                  "| p50 | p99 | max | mean | SIGKILL needed | mean time until on GPU |", "|---|---|---|---|---|---|",
                  (f"| {s['p50_ms']:.1f} ms | {s['p99_ms']:.1f} ms | {s['max_ms']:.1f} ms | {s['mean_ms']:.1f} ms | "
                   f"{s['sigkill_needed']}/{s['n']} | {s['mean_time_to_gpu_s']:.2f} s |"), ""]
    return lines


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--stops", type=int, default=50)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--results", type=Path)
    ap.add_argument("--session")
    ap.add_argument("--pool", type=_positive, default=4, help="backgrounds started ahead (default 4)")
    ap.add_argument("--settle-s", type=float, default=0.3, help="least time between two stops (default 0.3)")
    ap.add_argument("--min-load-s", type=float, default=1.0,
                    help="least time a background has loaded the GPU before its stop (default 1.0): a real "
                         "background has passed the readiness gate; one stopped in its CUDA start-up is slower")
    ap.add_argument("--fake", action="store_true", help="CPU sleep-loop backgrounds, no GPU (smoke test)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    if args.stops > 0:
        result["stops"] = stop_latencies(args.stops, args.out, args.gpu, args.pool, args.settle_s, args.fake,
                                         args.min_load_s)
    if args.results and args.session:
        result["session"] = session_overheads(args.results, args.session)
    (args.out / "lifecycle.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (args.out / "lifecycle.md").write_text(text)
    print(text)
    stops = result.get("stops") or {}
    if stops.get("interrupted") or stops.get("error"):
        raise SystemExit(1)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


if __name__ == "__main__":
    main()
